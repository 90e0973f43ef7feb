//! Temporary driver for `cpts garde` and the garde fixtures until src/cli.rs wires them.
#![allow(clippy::unwrap_used)]
use std::path::Path;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("fixtures") => {
            cpts::garde::generate_fixtures(Path::new("fixtures/data"), Path::new("fixtures"))
        }
        Some("run") => {
            let a = cpts::garde::GardeArgs {
                dir: args[2].clone().into(),
                out: args.get(3).map(Into::into),
            };
            let r = cpts::garde::run_cli(&a);
            if let Err(e) = &r {
                if e.downcast_ref::<cpts::garde::GardeImportError>().is_some() {
                    std::process::exit(2);
                }
            }
            r
        }
        Some("exact") => {
            exact(&args[2]);
            Ok(())
        }
        _ => anyhow::bail!("usage: garde_tmp fixtures | run DIR [OUT]"),
    }
}

#[allow(dead_code)]
fn exact(dir: &str) {
    let inst = cpts::garde::read_instance(Path::new(dir)).unwrap();
    let t = std::time::Instant::now();
    let r = cpts::garde::exact::solve(&inst, &cpts::solver::milp::Options::default()).unwrap();
    println!("exact {:?} in {:?}", r.objective(&inst), t.elapsed());
}
