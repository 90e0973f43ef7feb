//! Tokens (issue 8): expiry, and a 401 that never tells whether a token exists.

use crate::helpers::{TestApp, both_backends};
use cpts::config::Config;
use cpts::domain::Role;
use cpts::tokens::{self, TokenKey};
use reqwest::StatusCode;
use std::sync::Arc;

both_backends!(
    an_expired_token_gets_the_same_401_as_an_unknown_one,
    cpts_token_create_sets_an_expiry_and_audits_it,
);

/// The key the test app hashes with (the development key: `TestApp` sets none).
fn key() -> TokenKey {
    TokenKey::new(Config::for_database("sqlite::memory:").token_key_bytes())
}

/// Status and raw body bytes of `GET /audit` with `token`.
async fn answer(app: &TestApp, token: Option<&str>) -> (StatusCode, Vec<u8>, String) {
    let r = app.get("/audit", token).await;
    let status = r.status();
    let content_type = r.headers()["content-type"].to_str().unwrap().to_owned();
    (status, r.bytes().await.unwrap().to_vec(), content_type)
}

async fn an_expired_token_gets_the_same_401_as_an_unknown_one(app: Arc<TestApp>) {
    let now = chrono::Utc::now().timestamp();
    let key = key();
    let mint = |expires_at: Option<i64>| {
        let store = app.store.clone();
        let key = key.clone();
        async move {
            tokens::create_expiring(
                &store,
                &key,
                Role::Auditeur,
                None,
                cpts::domain::Scope::National,
                "t",
                expires_at,
            )
            .await
            .unwrap()
            .token
        }
    };
    let valid = mint(Some(now + 3600)).await;
    let expired = mint(Some(now - 1)).await;
    let revoked = mint(None).await;
    assert!(
        app.store
            .revoke_token(tokens::id_of(&revoked).unwrap())
            .await
            .unwrap()
    );
    assert_eq!(answer(&app, Some(&valid)).await.0, StatusCode::OK);

    // An existing id with a wrong secret, an id nobody has, a malformed token, none at all,
    // an expired and a revoked token: one answer, byte for byte.
    let (prefix, _) = valid.rsplit_once('_').unwrap();
    let wrong_secret = format!("{prefix}_{}", "0".repeat(64));
    let unknown_id = format!("cpts_{}_{}", "f".repeat(16), "0".repeat(64));
    let reference = answer(&app, Some(&unknown_id)).await;
    assert_eq!(reference.0, StatusCode::UNAUTHORIZED);
    assert_eq!(reference.2, "application/problem+json");
    for presented in [
        Some(wrong_secret.as_str()),
        Some("cpts_malformed"),
        None,
        Some(expired.as_str()),
        Some(revoked.as_str()),
    ] {
        assert_eq!(
            answer(&app, presented).await,
            reference,
            "{presented:?} is told apart from an unknown token"
        );
    }

    // Expiry is checked at each request: the same token, valid until a given instant.
    let record = tokens::authenticate_at(&app.store, &key, &valid, now + 3599)
        .await
        .unwrap();
    assert!(record.is_some());
    let record = tokens::authenticate_at(&app.store, &key, &valid, now + 3600)
        .await
        .unwrap();
    assert!(record.is_none());
}

async fn cpts_token_create_sets_an_expiry_and_audits_it(app: Arc<TestApp>) {
    let cli = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_cpts"))
            .args(args)
            .env("DATABASE_URL", &app.database_url)
            .env_remove("CPTS_TOKEN_KEY")
            .output()
            .unwrap()
    };
    let out = cli(&[
        "token",
        "create",
        "--role",
        "auditeur",
        "--national",
        "--expires-in",
        "30d",
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains(", expires 20"), "{stderr}");
    let token = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    let id = tokens::id_of(&token).unwrap().to_owned();
    let stored = app.store.token(&id).await.unwrap().unwrap();
    let in_30_days = chrono::Utc::now().timestamp() + 30 * 86_400;
    let expires_at = stored.expires_at.unwrap();
    assert!(
        (in_30_days - 60..=in_30_days).contains(&expires_at),
        "{expires_at}"
    );
    assert_eq!(answer(&app, Some(&token)).await.0, StatusCode::OK);

    // The creation and a revocation, both made on the command line: actor NULL.
    let out = cli(&["token", "revoke", &id]);
    assert!(out.status.success());
    // The server read this token's row a moment ago: it refuses it once the row is read again.
    app.refused_after_revoke(&token, "/audit").await;
    let auditeur = app.token(Role::Auditeur, None).await;
    let page: serde_json::Value = app
        .get(&format!("/audit?object=token:{id}"), Some(&auditeur))
        .await
        .json()
        .await
        .unwrap();
    let actions: Vec<&str> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["token.create", "token.revoke"]);
    assert_eq!(page["items"][0]["detail"]["expires_at"], expires_at);

    // `cpts token list` shows it revoked, and never a secret.
    let out = cli(&["token", "list"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let listed = String::from_utf8(out.stdout).unwrap();
    let line = listed
        .lines()
        .find(|l| l.starts_with(&id))
        .unwrap_or_else(|| panic!("{id} not in\n{listed}"));
    assert!(
        line.contains("\tauditeur\t") && line.contains("\trevoked 20"),
        "{line}"
    );
    assert!(!listed.contains(&token), "a secret was listed");
    // `token create --help` lists only its own flags, not the server's.
    let help = String::from_utf8(cli(&["token", "create", "--help"]).stdout).unwrap();
    assert!(
        help.contains("--role") && help.contains("--database-url"),
        "{help}"
    );
    for server_flag in ["--bind", "--redis-url", "--max-connections", "--rate-limit"] {
        assert!(!help.contains(server_flag), "{server_flag} in\n{help}");
    }

    // Scopes (issue 16): each role takes its own kind of territory; `token list` shows it.
    for bad in [
        &["--role", "coordinateur"][..],
        &["--role", "coordinateur", "--territory", "dep:54"],
        &["--role", "coordinateur", "--territory", "cpts:nowhere"],
        &["--role", "cpam", "--national"],
        &["--role", "regulateur", "--territory", "dep:20"],
        &["--role", "admin", "--territory", "dep:54"],
    ] {
        let mut args = vec!["token", "create"];
        args.extend_from_slice(bad);
        let out = cli(&args);
        assert_eq!(out.status.code(), Some(2), "{bad:?}");
        assert!(out.stdout.is_empty(), "{bad:?}");
    }
    let out = cli(&[
        "token",
        "create",
        "--role",
        "coordinateur",
        "--territory",
        "cpts:grand_nancy",
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("scope cpts:grand_nancy"), "{stderr}");
    let listed = String::from_utf8(cli(&["token", "list"]).stdout).unwrap();
    assert!(
        listed.contains("\tcoordinateur\t\tcpts:grand_nancy\tactive"),
        "{listed}"
    );

    // Bad expiries are refused before anything is stored (exit code 2).
    for bad in [
        &["--expires-in", "30x"][..],
        &["--expires-in", "0d"],
        &["--expires-at", "2001-01-01T00:00:00Z"],
        &["--expires-at", "tomorrow"],
        &["--expires-in", "1d", "--expires-at", "2099-01-01T00:00:00Z"],
    ] {
        let mut args = vec!["token", "create", "--role", "cpam", "--territory", "dep:54"];
        args.extend_from_slice(bad);
        let out = cli(&args);
        assert_eq!(out.status.code(), Some(2), "{bad:?}");
        assert!(out.stdout.is_empty(), "{bad:?}");
    }
}
