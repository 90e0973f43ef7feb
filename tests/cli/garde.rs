//! `cpts garde` through the binary: the outputs of a fixture, refused input (exit code 2, the
//! error's file, line and column on stderr) and atomic output (nothing at all when refused).

use super::{cpts, read};
use std::path::Path;

/// The names in a folder, sorted.
fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[test]
fn garde_writes_the_roster_files_and_the_objective_of_metz_q() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("metz-q");
    let o = cpts(&["garde", "fixtures/metz-q", "--out", out.to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(
        names(&out),
        [
            "carence.csv",
            "roster.csv",
            "slots.csv",
            "summary.json",
            "unfilled.csv"
        ]
    );
    // Only the output folder: its temporary sibling was renamed into it.
    assert_eq!(names(tmp.path()), ["metz-q"]);

    // README.md, "Garde rosters": metz-q fills 475 of 532 positions, Σ load² 2,319, 995,918 m.
    let summary: serde_json::Value =
        serde_json::from_str(&read(&out.join("summary.json"))).unwrap();
    assert_eq!(summary["instance"], "metz-q");
    assert_eq!(summary["objective"]["filled"], 475);
    assert_eq!(summary["needed"], 532);
    assert_eq!(summary["objective"]["sum_load_sq"], 2319);
    assert_eq!(summary["objective"]["distance_m"], 995_918);
    assert_eq!(summary["slots"], 4440);
    // Timings to 0.1 ms (cpts::telemetry::ms), never a raw 17-digit float.
    let timings = summary["timings"].as_object().unwrap();
    assert_eq!(timings.len(), 7);
    for (stage, v) in timings {
        let text = v.to_string();
        let decimals = text.split_once('.').map_or(0, |(_, d)| d.len());
        assert!(decimals <= 1, "{stage} = {text}");
    }

    let roster = read(&out.join("roster.csv"));
    assert_eq!(
        roster.lines().next(),
        Some("cabinet_id,date,start,end,rpps,distance_m")
    );
    assert_eq!(roster.lines().count(), 1 + 475);
    let unfilled = read(&out.join("unfilled.csv"));
    assert_eq!(
        unfilled.lines().count(),
        1 + 38,
        "38 shifts with an empty position"
    );
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(stdout.contains("filled 475/532"), "{stdout}");
}

/// A valid small instance whose `availability.csv` line 2 starts in the spring DST gap
/// (29 March 2026, 02:00–03:00 does not exist in Europe/Paris): column 2, `start`.
fn refused_instance(dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(
        dir.join("cabinets.csv"),
        "cabinet_id,name,lat,lon,insee,need\nA,a,49.1,6.2,57463,1\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("doctors.csv"),
        "rpps,name,lat,lon,insee,max_shifts,max_km\n10000000009,D,49.1,6.2,57463,3,10\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("availability.csv"),
        "rpps,start,end\n10000000009,2026-03-29T02:30:00,2026-03-29T05:00:00\n",
    )
    .unwrap();
    std::fs::write(dir.join("period.csv"), "start,end\n2026-03-01,2026-03-31\n").unwrap();
}

#[test]
fn a_bad_csv_exits_2_names_file_line_and_column_and_leaves_no_output() {
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("input");
    refused_instance(&input);
    let out = tmp.path().join("out");
    let o = cpts(&[
        "garde",
        input.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("availability.csv:2:2"), "{stderr}");
    assert!(stderr.contains("nothing was written"), "{stderr}");
    assert!(o.stdout.is_empty());
    // Atomic: no output folder, no temporary sibling either.
    assert!(!out.exists());
    assert_eq!(names(tmp.path()), ["input"]);

    // A missing file is refused the same way.
    std::fs::remove_file(input.join("period.csv")).unwrap();
    let o = cpts(&[
        "garde",
        input.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("cannot read") && stderr.contains("period.csv"),
        "{stderr}"
    );
    assert_eq!(names(tmp.path()), ["input"]);
}

#[test]
fn a_refused_rerun_leaves_the_previous_output_as_it_was() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("metz-q");
    let o = cpts(&["garde", "fixtures/metz-q", "--out", out.to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let before = read(&out.join("roster.csv"));
    let input = tmp.path().join("bad");
    refused_instance(&input);
    let o = cpts(&[
        "garde",
        input.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(read(&out.join("roster.csv")), before);
    assert_eq!(names(tmp.path()), ["bad", "metz-q"]);
}

/// metz-q copied to a temporary folder, to add optional files to.
fn metz_q_copy() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for f in [
        "cabinets.csv",
        "doctors.csv",
        "availability.csv",
        "period.csv",
    ] {
        std::fs::copy(Path::new("fixtures/metz-q").join(f), dir.path().join(f)).unwrap();
    }
    dir
}

#[test]
fn garde_reads_history_preferences_and_pins() {
    let dir = metz_q_copy();
    let base = tempfile::tempdir().unwrap();
    let o = cpts(&[
        "garde",
        dir.path().to_str().unwrap(),
        "--out",
        base.path().join("o").to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let roster = read(&base.path().join("o/roster.csv"));
    // A row of the optimal roster, pinned: a valid pin (cabinet_id,date,start,end,rpps,…).
    let row: Vec<&str> = roster.lines().nth(1).unwrap().split(',').collect();
    let (cabinet, date, rpps) = (row[0], row[1], row[4]);
    std::fs::write(
        dir.path().join("pinned.csv"),
        format!("cabinet_id,date,rpps\n{cabinet},{date},{rpps}\n"),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("history.csv"),
        format!("rpps,prior_shifts\n{rpps},6\n"),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("preferences.csv"),
        "rpps,date,preference\n15700000019,2026-01-06,avoid\n15700000027,2026-01-09,prefer\n",
    )
    .unwrap();
    let out = tempfile::tempdir().unwrap();
    let o = cpts(&[
        "garde",
        dir.path().to_str().unwrap(),
        "--out",
        out.path().join("o").to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let summary: serde_json::Value =
        serde_json::from_str(&read(&out.path().join("o/summary.json"))).unwrap();
    let objective = &summary["objective"];
    for key in ["filled", "sum_load_sq", "preference_score", "distance_m"] {
        assert!(objective.get(key).is_some(), "{key} missing: {objective}");
    }
    // The prior shifts count in Σ (prior + load)²: more than without them.
    assert!(
        objective["sum_load_sq"].as_u64().unwrap() > 2319,
        "{objective}"
    );
    let pinned_roster = read(&out.path().join("o/roster.csv"));
    assert!(
        pinned_roster
            .lines()
            .any(|l| l.starts_with(&format!("{cabinet},{date},")) && l.contains(rpps)),
        "the pinned row is not in the roster"
    );
}

#[test]
fn bad_optional_files_are_refused_with_their_positions() {
    let dir = metz_q_copy();
    std::fs::write(
        dir.path().join("pinned.csv"),
        "cabinet_id,date,rpps\nNOPE,2026-01-06,15700000019\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("preferences.csv"),
        "rpps,date,preference\n15700000019,2026-01-06,maybe\n15700000019,2027-01-06,avoid\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("history.csv"),
        "rpps,prior_shifts\n15700000019,-1\n",
    )
    .unwrap();
    let out = tempfile::tempdir().unwrap();
    let target = out.path().join("o");
    let o = cpts(&[
        "garde",
        dir.path().to_str().unwrap(),
        "--out",
        target.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    for wanted in [
        "history.csv:2:2: field `prior_shifts`",
        "preferences.csv:2:3: field `preference`",
        "preferences.csv:3:2: field `date`",
        "pinned.csv:2:1: field `cabinet_id`",
    ] {
        assert!(err.contains(wanted), "{wanted} not in\n{err}");
    }
    assert!(!target.exists(), "a refused instance wrote something");
}
