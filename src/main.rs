use clap::Parser;

fn main() -> std::process::ExitCode {
    let cli = cpts::cli::Cli::parse();
    cpts::cli::init_tracing();
    cpts::cli::run(cli)
}
