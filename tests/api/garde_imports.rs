//! Issue 18, bulk imports for the coordinator: garde doctors (FORMATS.md §3 `doctors.csv`, no
//! `capacity`) and availability windows, each one CSV, all or nothing, errors by line, column
//! and field; limited to the départements of the coordinator's CPTS (issue 16).

use crate::helpers::{TestApp, assert_problem, both_backends};
use cpts::domain::Role;
use reqwest::StatusCode;
use serde_json::Value;
use std::sync::Arc;

both_backends!(
    a_coordinator_loads_garde_doctors_and_their_windows_in_two_requests,
    a_refused_garde_file_stores_nothing_and_names_each_cell,
);

const GARDE_DOCTORS: &str = "rpps,name,lat,lon,insee,max_shifts,max_km\n\
    10000000009,Dr A,48.6930,6.1850,54395,3,20\n\
    10123456781,Dr B,48.7010,6.1990,54547,2,15.5\n";

const WINDOWS: &str = "rpps,start,end\n\
    10000000009,2037-03-02T17:00:00,2037-03-02T21:00:00\n\
    10000000009,2037-03-03T17:00:00+01:00,2037-03-03T21:00:00+01:00\n\
    10123456781,2037-03-02T08:00:00,2037-03-08T00:00:00\n";

async fn a_coordinator_loads_garde_doctors_and_their_windows_in_two_requests(app: Arc<TestApp>) {
    let coordinateur = app.token(Role::Coordinateur, None).await;
    // One doctor is known already (a CPAM import, with a capacity); the other is new.
    let cpam = app.token(Role::Cpam, None).await;
    let r = app
        .import_csv(
            Some(&cpam),
            "doctors",
            "rpps,name,lat,lon,insee,capacity\n10000000009,Dr A,48.6930,6.1850,54395,7\n",
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let r = app
        .import_csv(Some(&coordinateur), "garde-doctors", GARDE_DOCTORS)
        .await;
    let body: Value = r.json().await.unwrap();
    assert_eq!(
        (&body["rows"], &body["inserted"], &body["updated"]),
        (&2.into(), &1.into(), &1.into()),
        "{body}"
    );
    // The known doctor keeps its capacity and gets its garde limits.
    let medecin = app.medecin(&"10000000009".parse().unwrap()).await;
    let garde: Value = app
        .get("/doctors/10000000009/garde", Some(&medecin))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (&garde["max_shifts"], &garde["max_km"]),
        (&3.into(), &20.0.into()),
        "{garde}"
    );
    let doctor = app
        .store
        .doctor(&"10000000009".parse().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(doctor.doctor.capacity, 7);

    let r = app
        .import_csv(Some(&coordinateur), "availability", WINDOWS)
        .await;
    let body: Value = r.json().await.unwrap();
    assert_eq!(
        (&body["rows"], &body["inserted"], &body["already_declared"]),
        (&3.into(), &3.into(), &0.into()),
        "{body}"
    );
    // The same file again: every window is declared already, nothing doubles.
    let body: Value = app
        .import_csv(Some(&coordinateur), "availability", WINDOWS)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (&body["inserted"], &body["already_declared"]),
        (&0.into(), &3.into()),
        "{body}"
    );
    let windows = app
        .store
        .availability_of(&"10000000009".parse().unwrap())
        .await
        .unwrap();
    assert_eq!(windows.len(), 2);
    // 17:00 Paris wall time in March is 16:00 UTC.
    assert_eq!(windows[0].start_at, 2_119_622_400);
    // Other roles may not.
    for role in [Role::Cpam, Role::Regulateur] {
        let token = app.token(role, None).await;
        let r = app.import_csv(Some(&token), "availability", WINDOWS).await;
        assert_problem(r, StatusCode::FORBIDDEN, "/problems/forbidden").await;
    }
}

async fn a_refused_garde_file_stores_nothing_and_names_each_cell(app: Arc<TestApp>) {
    let coordinateur = app.token(Role::Coordinateur, None).await;
    // Line 3: a doctor of Metz for the Grand Nancy coordinator; line 4: no max_km.
    let bad = "rpps,name,lat,lon,insee,max_shifts,max_km\n\
        10000000009,Dr A,48.6930,6.1850,54395,3,20\n\
        10123456781,Dr B,49.1190,6.1757,57463,2,15\n\
        10000005701,Dr C,48.7010,6.1990,54547,2,\n";
    let r = app
        .import_csv(Some(&coordinateur), "garde-doctors", bad)
        .await;
    let p = assert_problem(
        r,
        StatusCode::UNPROCESSABLE_ENTITY,
        "/problems/invalid-request",
    )
    .await;
    let cells: Vec<(u64, String)> = p["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["line"].as_u64().unwrap(),
                e["field"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        cells,
        [(3, "insee".to_owned()), (4, "max_km".to_owned())],
        "{p}"
    );
    assert!(
        app.store
            .doctor(&"10000000009".parse().unwrap())
            .await
            .unwrap()
            .is_none()
    );

    let r = app
        .import_csv(Some(&coordinateur), "garde-doctors", GARDE_DOCTORS)
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    // Line 3 overlaps line 2; line 4 names a doctor that is not stored; line 5 ends first.
    let bad = "rpps,start,end\n\
        10000000009,2037-03-02T17:00:00,2037-03-02T21:00:00\n\
        10000000009,2037-03-02T20:00:00,2037-03-02T22:00:00\n\
        10000005701,2037-03-02T17:00:00,2037-03-02T21:00:00\n\
        10123456781,2037-03-02T21:00:00,2037-03-02T17:00:00\n";
    let r = app
        .import_csv(Some(&coordinateur), "availability", bad)
        .await;
    let p = assert_problem(
        r,
        StatusCode::UNPROCESSABLE_ENTITY,
        "/problems/invalid-request",
    )
    .await;
    let cells: Vec<(u64, String)> = p["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["line"].as_u64().unwrap(),
                e["field"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        cells,
        [
            (3, "start".to_owned()),
            (4, "rpps".to_owned()),
            (5, "end".to_owned())
        ],
        "{p}"
    );
    assert!(
        app.store
            .availability_of(&"10000000009".parse().unwrap())
            .await
            .unwrap()
            .is_empty(),
        "a refused file stored a window"
    );
}
