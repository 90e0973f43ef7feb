//! From batch to médecin traitant (issue 17), through the HTTP API: nancy is imported,
//! matched and committed; the GPs answer (a third accept, a third refuse, a third let the
//! deadline pass); CPAM records déclarations and a withdrawal; a second batch respects all of
//! it, and its exported instance gives the same objective under `cpts match`, which
//! `cpts verify` accepts.

use crate::helpers::{TestApp, assert_problem, both_backends};
use crate::scenario::fixture;
use cpts::domain::Role;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

both_backends!(
    nancy_proposals_answers_and_a_second_batch_that_respects_them,
    transitions_out_of_order_are_409_and_other_gps_see_nothing
);

/// Every proposal CPAM staff see with `query`, page by page.
async fn all_proposals(app: &TestApp, cpam: &str, query: &str) -> Vec<Value> {
    let mut out = Vec::new();
    let mut offset = 0;
    loop {
        let r = app
            .get(
                &format!("/proposals?{query}&limit=1000&offset={offset}"),
                Some(cpam),
            )
            .await;
        assert_eq!(r.status(), StatusCode::OK);
        let page: Value = r.json().await.unwrap();
        let items = page["items"].as_array().unwrap();
        out.extend(items.iter().cloned());
        offset += 1000;
        if page["next"].is_null() {
            assert_eq!(page["total"].as_u64().unwrap(), out.len() as u64);
            return out;
        }
    }
}

/// POSTs `(path, body, token)` requests, 16 at a time; returns their statuses in order.
async fn post_all(app: &Arc<TestApp>, calls: Vec<(String, Value, String)>) -> Vec<StatusCode> {
    let mut statuses = Vec::new();
    for chunk in calls.chunks(16) {
        let mut set = tokio::task::JoinSet::new();
        for (i, (path, body, token)) in chunk.iter().cloned().enumerate() {
            let app = Arc::clone(app);
            set.spawn(async move {
                let r = app
                    .request(Method::POST, &path, Some(&token))
                    .json(&body)
                    .send()
                    .await
                    .unwrap();
                (i, r.status())
            });
        }
        let mut got = set.join_all().await;
        got.sort_by_key(|(i, _)| *i);
        statuses.extend(got.into_iter().map(|(_, s)| s));
    }
    statuses
}

/// What a Server-Sent Events response says until `until` appears or `wait` passes.
async fn read_events(r: &mut reqwest::Response, until: &str, wait: Duration) -> String {
    let mut text = String::new();
    let deadline = tokio::time::Instant::now() + wait;
    while !text.contains(until) {
        match tokio::time::timeout_at(deadline, r.chunk()).await {
            Ok(Ok(Some(bytes))) => text.push_str(&String::from_utf8_lossy(&bytes)),
            _ => break,
        }
    }
    text
}

fn assert_all_ok(statuses: &[StatusCode]) {
    let mut counts: HashMap<u16, usize> = HashMap::new();
    for s in statuses {
        *counts.entry(s.as_u16()).or_default() += 1;
    }
    assert_eq!(
        counts.get(&200).copied(),
        Some(statuses.len()),
        "{counts:?}"
    );
}

/// Unzips the batch's instance into a fresh folder.
async fn download_instance(app: &TestApp, cpam: &str, batch: &str) -> tempfile::TempDir {
    let r = app
        .get(&format!("/batches/{batch}/instance"), Some(cpam))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["content-type"], "application/zip");
    let bytes = r.bytes().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes.to_vec())).unwrap();
    zip.extract(dir.path()).unwrap();
    dir
}

fn csv_rows(path: &std::path::Path) -> Vec<HashMap<String, String>> {
    let mut r = csv::Reader::from_path(path).unwrap();
    let headers: Vec<String> = r.headers().unwrap().iter().map(str::to_owned).collect();
    r.records()
        .map(|rec| {
            let rec = rec.unwrap();
            headers
                .iter()
                .cloned()
                .zip(rec.iter().map(str::to_owned))
                .collect()
        })
        .collect()
}

async fn nancy_proposals_answers_and_a_second_batch_that_respects_them(app: Arc<TestApp>) {
    // 1. Import nancy, batch, commit.
    let cpam = app.token(Role::Cpam, None).await;
    for file in ["patients", "doctors"] {
        let r = app
            .import_csv(Some(&cpam), file, &fixture(&format!("{file}.csv")))
            .await;
        assert_eq!(r.status(), StatusCode::OK);
    }
    let territory = json!({"territory": {"epci": "245400676"}});
    let first = app.run_batch(&cpam, &territory).await;
    let first_id = first["id"].as_str().unwrap().to_owned();
    assert_eq!(
        first["result"]["objective"]["matched"],
        json!([1366, 2531, 5203])
    );
    let r = app
        .request(
            Method::POST,
            &format!("/batches/{first_id}/commit"),
            Some(&cpam),
        )
        .json(&json!({"deadline_days": 15}))
        .send()
        .await
        .unwrap();
    let status = r.status();
    let committed: Value = r.json().await.unwrap();
    assert_eq!(status, StatusCode::CREATED, "{committed}");
    assert_eq!(committed["proposals"], 9100);
    assert_eq!(committed["skipped"], 0);
    // Once only.
    let again = app
        .request(
            Method::POST,
            &format!("/batches/{first_id}/commit"),
            Some(&cpam),
        )
        .send()
        .await
        .unwrap();
    assert_problem(again, StatusCode::CONFLICT, "/problems/conflict").await;

    // 2. A third of the proposals accepted, a third refused, a third left to expire; each
    //    answered by the GP it is addressed to.
    let proposals = all_proposals(&app, &cpam, &format!("batch={first_id}")).await;
    assert_eq!(proposals.len(), 9100);
    assert!(proposals.iter().all(|p| p["state"] == "proposed"));
    let mut gp_tokens: HashMap<String, String> = HashMap::new();
    for p in &proposals {
        let rpps = p["rpps"].as_str().unwrap().to_owned();
        if let std::collections::hash_map::Entry::Vacant(e) = gp_tokens.entry(rpps) {
            let token = app.medecin(&e.key().parse().unwrap()).await;
            e.insert(token);
        }
    }
    let mut calls = Vec::new();
    let (mut accepted, mut refused, mut waiting) = (Vec::new(), HashSet::new(), Vec::new());
    for (i, p) in proposals.iter().enumerate() {
        let id = p["id"].as_str().unwrap();
        let token = gp_tokens[p["rpps"].as_str().unwrap()].clone();
        let pair = (
            p["patient_id"].as_str().unwrap().to_owned(),
            p["rpps"].as_str().unwrap().to_owned(),
        );
        match i % 3 {
            0 => {
                calls.push((format!("/proposals/{id}/accept"), json!({}), token));
                accepted.push((id.to_owned(), pair));
            }
            1 => {
                calls.push((
                    format!("/proposals/{id}/refuse"),
                    json!({"reason": "capacity"}),
                    token,
                ));
                refused.insert(pair);
            }
            _ => waiting.push((id.to_owned(), pair)),
        }
    }
    let statuses = post_all(&app, calls).await;
    assert_all_ok(&statuses);

    // A GP sees his own proposals, pending first, and his places.
    let (gp, token) = gp_tokens.iter().next().unwrap();
    let mine: Value = app
        .get("/proposals?limit=1000", Some(token))
        .await
        .json()
        .await
        .unwrap();
    let items = mine["items"].as_array().unwrap();
    assert!(items.iter().all(|p| p["rpps"] == gp.as_str()));
    let rank = |s: &str| match s {
        "proposed" => 0,
        "accepted" => 1,
        _ => 2,
    };
    let ranks: Vec<i32> = items
        .iter()
        .map(|p| rank(p["state"].as_str().unwrap()))
        .collect();
    assert!(ranks.windows(2).all(|w| w[0] <= w[1]), "{ranks:?}");
    let held = items
        .iter()
        .filter(|p| matches!(p["state"].as_str(), Some("proposed" | "accepted")))
        .count() as u64;
    assert_eq!(mine["places"]["held"], held);

    // CPAM records the déclaration of half the accepted patients.
    let attach: Vec<_> = accepted
        .iter()
        .step_by(2)
        .map(|(id, _)| (format!("/proposals/{id}/attach"), json!({}), cpam.clone()))
        .collect();
    let statuses = post_all(&app, attach).await;
    assert_all_ok(&statuses);

    // 3. A patient withdrawn (found a doctor elsewhere).
    let (withdrawn_id, withdrawn_pair) = waiting.pop().unwrap();
    let r = app
        .request(
            Method::POST,
            &format!("/proposals/{withdrawn_id}/withdraw"),
            Some(&cpam),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);

    // The deadline passes: the unanswered third expires by itself, and a late answer is 409.
    app.clock.advance(16 * 86_400);
    let expired = all_proposals(&app, &cpam, &format!("batch={first_id}&state=expired")).await;
    assert_eq!(expired.len(), waiting.len());
    let (late_id, late_pair) = &waiting[0];
    let late = app
        .request(
            Method::POST,
            &format!("/proposals/{late_id}/accept"),
            Some(&gp_tokens[&late_pair.1]),
        )
        .send()
        .await
        .unwrap();
    assert_problem(late, StatusCode::CONFLICT, "/problems/conflict").await;

    // The list of patients and the report follow.
    let attached: Value = app
        .get("/patients?status=attached&limit=1", Some(&cpam))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        attached["total"].as_u64().unwrap(),
        accepted.len().div_ceil(2) as u64
    );
    let r = app
        .get("/reports/attachment?territory=dep:54", Some(&cpam))
        .await;
    let status = r.status();
    let report: Value = r.json().await.unwrap();
    assert_eq!(status, StatusCode::OK, "{report}");
    let sum = |k: &str| -> u64 {
        report["communes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c[k].as_u64().unwrap())
            .sum()
    };
    assert_eq!(sum("attached"), accepted.len().div_ceil(2) as u64);
    assert!(sum("attached_this_month") <= sum("attached"));
    // Attachments per month: twelve months, this one last, every attachment of the test in
    // them (all made within the year).
    let months = report["by_month"].as_array().unwrap();
    assert_eq!(months.len(), 12, "{report}");
    assert_eq!(
        months[11]["attached"].as_u64().unwrap(),
        sum("attached_this_month")
    );
    assert_eq!(
        months
            .iter()
            .map(|m| m["attached"].as_u64().unwrap())
            .sum::<u64>(),
        sum("attached")
    );
    assert_eq!(sum("refused"), refused.len() as u64);
    assert_eq!(sum("expired"), waiting.len() as u64);
    assert_eq!(sum("withdrawn"), 1);
    let declared: HashMap<String, u64> =
        csv::Reader::from_reader(fixture("doctors.csv").as_bytes())
            .deserialize::<HashMap<String, String>>()
            .map(|r| {
                let r = r.unwrap();
                (r["rpps"].clone(), r["capacity"].parse().unwrap())
            })
            .collect();
    assert_eq!(sum("places_declared"), declared.values().sum::<u64>());
    let geo = app
        .request(Method::GET, "/reports/attachment", Some(&cpam))
        .header("accept", "application/geo+json")
        .send()
        .await
        .unwrap();
    assert_eq!(geo.headers()["content-type"], "application/geo+json");
    let geo: Value = geo.json().await.unwrap();
    assert_eq!(geo["type"], "FeatureCollection");
    assert_eq!(geo["features"][0]["geometry"]["type"], "Point");

    // 4. A second batch.
    let second = app.run_batch(&cpam, &territory).await;
    let second_id = second["id"].as_str().unwrap().to_owned();
    let dir = download_instance(&app, &cpam, &second_id).await;
    let patients: HashSet<String> = csv_rows(&dir.path().join("patients.csv"))
        .into_iter()
        .map(|r| r["patient_id"].clone())
        .collect();
    // No accepted or attached patient is proposed again, nor the withdrawn one.
    for (_, (patient, _)) in &accepted {
        assert!(
            !patients.contains(patient),
            "accepted patient in the second batch"
        );
    }
    assert!(!patients.contains(&withdrawn_pair.0));
    // The expired are orphans again.
    assert!(waiting.iter().all(|(_, (p, _))| patients.contains(p)));
    // Capacities are deducted: declared minus the places held (pending, accepted, attached).
    let mut held: HashMap<String, u64> = HashMap::new();
    for (_, (_, rpps)) in &accepted {
        *held.entry(rpps.clone()).or_default() += 1;
    }
    let doctors = csv_rows(&dir.path().join("doctors.csv"));
    for d in &doctors {
        let rpps = &d["rpps"];
        let left: u64 = d["capacity"].parse().unwrap();
        assert_eq!(
            left,
            declared[rpps] - held.get(rpps).copied().unwrap_or(0),
            "{rpps}"
        );
    }
    let listed: HashSet<&String> = doctors.iter().map(|d| &d["rpps"]).collect();
    for (rpps, cap) in &declared {
        if *cap > held.get(rpps).copied().unwrap_or(0) {
            assert!(
                listed.contains(rpps),
                "{rpps} has places left but is not offered"
            );
        }
    }
    // Every refused pair among the batch's patients is excluded, and none reappears.
    let exclusions: HashSet<(String, String)> = csv_rows(&dir.path().join("exclusions.csv"))
        .into_iter()
        .map(|r| (r["patient_id"].clone(), r["rpps"].clone()))
        .collect();
    for pair in &refused {
        if patients.contains(&pair.0) && listed.contains(&pair.1) {
            assert!(exclusions.contains(pair));
        }
    }
    let mut offset = 0;
    let mut assigned = 0;
    loop {
        let page: Value = app
            .get(
                &format!("/batches/{second_id}/assignments?limit=1000&offset={offset}"),
                Some(&cpam),
            )
            .await
            .json()
            .await
            .unwrap();
        for a in page["items"].as_array().unwrap() {
            let pair = (
                a["patient_id"].as_str().unwrap().to_owned(),
                a["rpps"].as_str().unwrap().to_owned(),
            );
            assert!(!refused.contains(&pair), "a refused pair reappears");
            assigned += 1;
        }
        if page["next"].is_null() {
            break;
        }
        offset += 1000;
    }
    assert!(assigned > 0);

    // Its objective is `cpts match` on the exported instance, which `cpts verify` accepts.
    let out = dir.path().join("out");
    let run = std::process::Command::new(env!("CARGO_BIN_EXE_cpts"))
        .arg("match")
        .arg(dir.path())
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let summary: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    let objective = &second["result"]["objective"];
    for tier in 0..3 {
        assert_eq!(
            summary["objective"][format!("matched_tier_{}", tier + 1)],
            objective["matched"][tier]
        );
    }
    assert_eq!(summary["objective"]["total_m"], objective["metres"]);
    let verify = std::process::Command::new(env!("CARGO_BIN_EXE_cpts"))
        .arg("verify")
        .arg(dir.path())
        .arg(&out)
        .output()
        .unwrap();
    assert!(
        verify.status.success(),
        "{}",
        String::from_utf8_lossy(&verify.stdout)
    );
    let ms = |job: &Value| -> f64 {
        ["load", "solve", "explain"]
            .iter()
            .map(|k| job["result"]["timings_ms"][k].as_f64().unwrap())
            .sum()
    };
    eprintln!(
        "nancy: first batch {} patients in {:.0} ms, second batch {} patients ({} excluded pairs) in {:.0} ms; objective {}",
        first["result"]["patients"],
        ms(&first),
        patients.len(),
        exclusions.len(),
        ms(&second),
        second["result"]["objective"]
    );
}

async fn transitions_out_of_order_are_409_and_other_gps_see_nothing(app: Arc<TestApp>) {
    let cpam = app.token(Role::Cpam, None).await;
    let r = app
        .import_csv(
            Some(&cpam),
            "doctors",
            "rpps,name,lat,lon,insee,capacity\n10000000009,Dr A,48.6930,6.1850,54395,2\n\
             10000000017,Dr B,48.6930,6.1850,54395,0\n",
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let r = app
        .import_csv(
            Some(&cpam),
            "patients",
            "patient_id,lat,lon,insee,age,ald,css\nP1,48.6921,6.1844,54395,75,1,0\n\
             P2,48.6921,6.1844,54395,30,0,0\n",
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let job = app
        .run_batch(&cpam, &json!({"territory": {"insee": ["54395"]}}))
        .await;
    let batch = job["id"].as_str().unwrap();
    let r = app
        .request(
            Method::POST,
            &format!("/batches/{batch}/commit"),
            Some(&cpam),
        )
        .header("content-type", "application/json")
        .body(r#"{"deadline_days": 0}"#)
        .send()
        .await
        .unwrap();
    let problem = assert_problem(
        r,
        StatusCode::UNPROCESSABLE_ENTITY,
        "/problems/invalid-request",
    )
    .await;
    assert_eq!(problem["errors"][0]["pointer"], "#/deadline_days");
    let r = app
        .request(
            Method::POST,
            &format!("/batches/{batch}/commit"),
            Some(&cpam),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let list = all_proposals(&app, &cpam, "state=proposed").await;
    assert_eq!(list.len(), 2);
    let id = list[0]["id"].as_str().unwrap();
    let a = app.medecin(&"10000000009".parse().unwrap()).await;
    let b = app.medecin(&"10000000017".parse().unwrap()).await;
    let post = |path: String, token: String, body: Value| {
        let app = Arc::clone(&app);
        async move {
            app.request(Method::POST, &path, Some(&token))
                .json(&body)
                .send()
                .await
                .unwrap()
        }
    };
    // Live screens: GP a and CPAM hear of a's proposals changing; GP b hears nothing.
    let mut streams = Vec::new();
    if app.has_redis() {
        for token in [&a, &cpam, &b] {
            let mut r = app
                .request(Method::GET, "/proposals/events", Some(token))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), StatusCode::OK);
            let ready = read_events(&mut r, "event: ready", Duration::from_secs(5)).await;
            assert!(ready.contains("event: ready"), "{ready}");
            streams.push(r);
        }
    }
    // Another GP neither sees nor answers it.
    let r = app.get(&format!("/proposals/{id}"), Some(&b)).await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let r = post(format!("/proposals/{id}/accept"), b.clone(), json!({})).await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let mine: Value = app.get("/proposals", Some(&b)).await.json().await.unwrap();
    assert_eq!(mine["total"], 0);
    assert_eq!(mine["places"], json!({"declared": 0, "held": 0, "left": 0}));
    // Attaching before acceptance, or refusing for no listed reason, is refused.
    let r = post(format!("/proposals/{id}/attach"), cpam.clone(), json!({})).await;
    assert_problem(r, StatusCode::CONFLICT, "/problems/conflict").await;
    let r = post(
        format!("/proposals/{id}/refuse"),
        a.clone(),
        json!({"reason": "busy"}),
    )
    .await;
    assert_problem(
        r,
        StatusCode::UNPROCESSABLE_ENTITY,
        "/problems/invalid-request",
    )
    .await;
    // A GP may not attach nor withdraw; CPAM may not accept for him.
    let r = post(format!("/proposals/{id}/withdraw"), a.clone(), json!({})).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = post(format!("/proposals/{id}/accept"), cpam.clone(), json!({})).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    // Accept, then accept again: 409; attach; then nothing more.
    let r = post(format!("/proposals/{id}/accept"), a.clone(), json!({})).await;
    assert_eq!(r.status(), StatusCode::OK);
    if let [to_a, to_cpam, to_b] = &mut streams[..] {
        let wanted = format!(r#""proposal_id":"{id}""#);
        for stream in [to_a, to_cpam] {
            let got = read_events(stream, &wanted, Duration::from_secs(5)).await;
            assert!(
                got.contains("event: proposal") && got.contains(r#""state":"accepted""#),
                "{got}"
            );
            assert!(!got.contains("patient"), "no patient in events: {got}");
        }
        let heard = read_events(to_b, "event: proposal", Duration::from_secs(1)).await;
        assert!(!heard.contains("event: proposal"), "{heard}");
    }
    let r = post(format!("/proposals/{id}/accept"), a.clone(), json!({})).await;
    assert_problem(r, StatusCode::CONFLICT, "/problems/conflict").await;
    let r = post(format!("/proposals/{id}/attach"), cpam.clone(), json!({})).await;
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["state"], "attached");
    assert!(body["attached"].is_string());
    let r = post(format!("/proposals/{id}/withdraw"), cpam.clone(), json!({})).await;
    assert_problem(r, StatusCode::CONFLICT, "/problems/conflict").await;
    let mine: Value = app.get("/proposals", Some(&a)).await.json().await.unwrap();
    assert_eq!(mine["places"], json!({"declared": 2, "held": 2, "left": 0}));
    // The patient refuses the other proposal (recorded by CPAM): the pair is excluded next
    // time, and the doctor has no place left for it anyway.
    let other = list[1]["id"].as_str().unwrap();
    let r = post(
        format!("/proposals/{other}/refuse"),
        cpam.clone(),
        json!({"reason": "distance"}),
    )
    .await;
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["refused_by"], "patient");
    // Every transition is in the audit trail.
    let auditeur = app.token(Role::Auditeur, None).await;
    let trail: Value = app
        .get(&format!("/audit?object=proposal:{id}"), Some(&auditeur))
        .await
        .json()
        .await
        .unwrap();
    let actions: Vec<&str> = trail["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["proposal.accept", "proposal.attach"]);
    // The retention purge erases the attached patient (the command line's store call).
    let purged = app
        .store
        .purge_attached_before(app.clock.now() + 60)
        .await
        .unwrap();
    assert_eq!((purged[0], purged[3]), (1, 1), "{purged:?}");
    let r = app.get(&format!("/proposals/{id}"), Some(&cpam)).await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    // Erasure takes the proposals with the patient.
    let patient = list[1]["patient_id"].as_str().unwrap();
    let r = app
        .request(Method::DELETE, &format!("/patients/{patient}"), Some(&cpam))
        .send()
        .await
        .unwrap();
    let erased: Value = r.json().await.unwrap();
    assert_eq!(erased["proposals"], 1);
    let r = app.get(&format!("/proposals/{other}"), Some(&cpam)).await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
}
