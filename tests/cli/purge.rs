//! `cpts purge --attached-before DATE`: the retention policy's command line (what it erases is
//! tested on both databases in tests/api/proposals.rs).

use super::cpts;

#[test]
fn a_purge_on_a_fresh_database_erases_nothing_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("cpts.db").display());
    let out = cpts(&[
        "purge",
        "--attached-before",
        "2026-01-01",
        "--database-url",
        &url,
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("0 patients attached before 2026-01-01 erased"),
        "{stderr}"
    );
}

#[test]
fn a_purge_without_a_valid_date_is_refused_before_touching_anything() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("cpts.db").display());
    let out = cpts(&[
        "purge",
        "--attached-before",
        "2026-13-01",
        "--database-url",
        &url,
    ]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("`2026-13-01` is not a date YYYY-MM-DD"),
        "{stderr}"
    );
    assert!(!dir.path().join("cpts.db").exists());
}
