//! docker-compose.yml runs what production needs: PostgreSQL, Redis, the API and a worker, with
//! health checks, and gives the `cpts` services every variable the code reads in production.
#![allow(clippy::unwrap_used)]

use clap::{CommandFactory, Parser};
use std::collections::BTreeSet;
use yaml_rust2::{Yaml, YamlLoader};

fn compose() -> Yaml {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docker-compose.yml"))
        .unwrap();
    YamlLoader::load_from_str(&text).unwrap().remove(0)
}

fn words(command: &Yaml) -> Vec<String> {
    command
        .as_vec()
        .unwrap_or_else(|| panic!("command must be a list, got {command:?}"))
        .iter()
        .map(|w| w.as_str().unwrap().to_owned())
        .collect()
}

/// The environment variables `cpts serve` reads (clap `env = …`).
fn serve_env() -> BTreeSet<String> {
    let cli = cpts::cli::Cli::command();
    let serve = cli.find_subcommand("serve").expect("a serve subcommand");
    serve
        .get_arguments()
        .filter_map(|a| a.get_env())
        .map(|e| e.to_string_lossy().into_owned())
        .collect()
}

#[test]
fn every_service_is_there_with_a_health_check() {
    let doc = compose();
    for name in ["postgres", "redis", "api", "worker"] {
        let service = &doc["services"][name];
        assert!(!service.is_badvalue(), "service {name} is missing");
        assert!(
            !service["healthcheck"]["test"].is_badvalue(),
            "service {name} has no health check"
        );
    }
    assert!(words(&doc["services"]["api"]["command"]).contains(&"serve".to_owned()));
    assert!(words(&doc["services"]["worker"]["command"]).contains(&"worker".to_owned()));
}

#[test]
fn the_cpts_services_get_the_production_variables_the_code_reads() {
    let doc = compose();
    let known = serve_env();
    for needed in [
        "DATABASE_URL",
        "REDIS_URL",
        "CPTS_TOKEN_KEY",
        "CPTS_PRODUCTION",
    ] {
        assert!(
            known.contains(needed),
            "serve no longer reads {needed}: update this test"
        );
    }
    for name in ["api", "worker"] {
        let env = doc["services"][name]["environment"].as_hash().unwrap();
        let set: BTreeSet<String> = env.keys().map(|k| k.as_str().unwrap().to_owned()).collect();
        for needed in [
            "DATABASE_URL",
            "REDIS_URL",
            "CPTS_TOKEN_KEY",
            "CPTS_PRODUCTION",
        ] {
            assert!(set.contains(needed), "{name} lacks {needed}");
        }
        for var in &set {
            assert!(
                known.contains(var) || var == "RUST_LOG",
                "{name} sets {var}, which the code does not read"
            );
        }
        let db = doc["services"][name]["environment"]["DATABASE_URL"]
            .as_str()
            .unwrap();
        assert!(
            db.starts_with("postgres://") && db.contains("@postgres:"),
            "{db}"
        );
        let redis = doc["services"][name]["environment"]["REDIS_URL"]
            .as_str()
            .unwrap();
        assert!(redis.starts_with("redis://redis"), "{redis}");
        let depends = doc["services"][name]["depends_on"].as_hash().unwrap();
        for dep in ["postgres", "redis"] {
            let condition = &depends[&Yaml::String(dep.to_owned())]["condition"];
            assert_eq!(
                condition.as_str(),
                Some("service_healthy"),
                "{name} → {dep}"
            );
        }
    }
}

#[test]
fn two_api_and_two_worker_replicas_run_with_one_host_port_each() {
    let doc = compose();
    for name in ["api", "worker"] {
        assert_eq!(
            doc["services"][name]["deploy"]["replicas"].as_i64(),
            Some(2),
            "{name} replicas"
        );
    }
    let ports = doc["services"]["api"]["ports"].as_vec().unwrap();
    let published = ports[0].as_str().unwrap();
    let range = published
        .rsplit_once(':')
        .unwrap()
        .0
        .rsplit(':')
        .next()
        .unwrap();
    let (low, high) = range.split_once('-').expect("a host port range");
    let (low, high): (u16, u16) = (low.parse().unwrap(), high.parse().unwrap());
    assert_eq!(
        high - low + 1,
        2,
        "one host port per API replica: {published}"
    );
    // Every worker must agree on the lease, or one takes over the other's live jobs.
    let lease = |name: &str| doc["services"][name]["environment"]["CPTS_JOB_LEASE_SECONDS"].clone();
    assert_eq!(lease("api"), lease("worker"));
}

#[test]
fn the_commands_are_ones_the_binary_accepts() {
    let doc = compose();
    for name in ["api", "worker"] {
        let argv = words(&doc["services"][name]["command"]);
        if let Err(e) = cpts::cli::Cli::try_parse_from(&argv) {
            panic!("{name}: `{}` is refused: {e}", argv.join(" "));
        }
    }
}
