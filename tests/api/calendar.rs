//! Calendar feeds (issue 18): a GP's published garde shifts at a secret URL, read back by an
//! iCalendar parser, across the spring clock change; renewed and revoked URLs stop answering.

use crate::helpers::{TestApp, assert_problem, both_backends};
use cpts::domain::Role;
use icalendar::{Calendar, CalendarComponent, CalendarDateTime, Component, DatePerhapsTime};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::sync::Arc;

both_backends!(
    a_gp_subscribes_to_his_shifts_and_renews_or_revokes_the_url,
    the_tableau_de_garde_lists_each_position_with_the_cabinets_phone,
    the_carence_report_lists_the_shifts_still_short_of_doctors
);

const DOCTOR: &str = "10000000009";

/// `PUT /cabinets/NANCY-1` as `coordinateur`: its fields, with `need` and `phone`.
async fn put_nancy_1(
    app: &TestApp,
    coordinateur: &str,
    need: u32,
    phone: Option<&str>,
) -> reqwest::Response {
    app.request(Method::PUT, "/cabinets/NANCY-1", Some(coordinateur))
        .json(
            &json!({"name": "Cabinet NANCY-1", "lat": 48.6921, "lon": 6.1844,
                      "insee": "54395", "need": need, "phone": phone}),
        )
        .send()
        .await
        .unwrap()
}

/// Doctor A, cabinet NANCY-1 (`need` doctors a shift) and a plan published over 23 March –
/// 4 April 2037; the coordinator's token.
async fn publish_two_weeks(app: &TestApp, need: u32) -> String {
    let cpam = app.token(Role::Cpam, None).await;
    let r = app
        .import_csv(
            Some(&cpam),
            "doctors",
            &format!("rpps,name,lat,lon,insee,capacity\n{DOCTOR},Dr A,48.6930,6.1850,54395,0\n"),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    app.seed_cabinet("NANCY-1", 48.6921, 6.1844, "54395").await;
    let coordinateur = app.token(Role::Coordinateur, None).await;
    let r = put_nancy_1(app, &coordinateur, need, None).await;
    assert_eq!(r.status(), StatusCode::OK);
    // Two weeks around the 2037 spring change (Sunday 29 March): every shift is his.
    app.seed_garde_doctor(DOCTOR, 20, "2037-03-23T08:00:00", "2037-04-05T00:00:00")
        .await;
    let plan = app
        .run_plan(
            &coordinateur,
            &json!({"period": {"start": "2037-03-23", "end": "2037-04-04"}}),
        )
        .await;
    let r = app.publish_plan(Some(&coordinateur), &plan).await;
    assert_eq!(r.status(), StatusCode::OK);
    coordinateur
}

async fn a_gp_subscribes_to_his_shifts_and_renews_or_revokes_the_url(app: Arc<TestApp>) {
    publish_two_weeks(&app, 1).await;
    let medecin = app.medecin(&DOCTOR.parse().unwrap()).await;
    let feed_path = |r: Value| r["path"].as_str().unwrap().to_owned();
    let r = app
        .request(
            Method::POST,
            &format!("/doctors/{DOCTOR}/calendar"),
            Some(&medecin),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let first = feed_path(r.json().await.unwrap());
    assert!(
        first.starts_with("/calendar/") && first.ends_with(".ics"),
        "{first}"
    );

    // No token: a calendar client sends none.
    let r = app.get(&first, None).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/calendar")
    );
    let text = r.text().await.unwrap();
    let cal: Calendar = text.parse().unwrap();
    let wall = |d: Option<DatePerhapsTime>| match d {
        Some(DatePerhapsTime::DateTime(CalendarDateTime::WithTimezone { date_time, tzid })) => {
            assert_eq!(tzid, "Europe/Paris");
            date_time.to_string()
        }
        other => panic!("not a Europe/Paris time: {other:?}"),
    };
    let mut times: Vec<(String, String)> = cal
        .components
        .iter()
        .filter_map(|c| match c {
            CalendarComponent::Event(e) => Some((wall(e.get_start()), wall(e.get_end()))),
            _ => None,
        })
        .collect();
    times.sort();
    // Ten weekday evenings and two Saturday mornings, the same wall hours on both sides of
    // the change.
    assert_eq!(times.len(), 12, "{times:?}");
    assert!(times.contains(&("2037-03-28 09:00:00".into(), "2037-03-28 13:00:00".into())));
    assert!(times.contains(&("2037-03-27 18:00:00".into(), "2037-03-27 20:00:00".into())));
    assert!(times.contains(&("2037-03-30 18:00:00".into(), "2037-03-30 20:00:00".into())));
    assert!(text.contains("BEGIN:VTIMEZONE"));

    // Renewing: the old URL stops answering, the new one answers.
    let r = app
        .request(
            Method::POST,
            &format!("/doctors/{DOCTOR}/calendar"),
            Some(&medecin),
        )
        .send()
        .await
        .unwrap();
    let second = feed_path(r.json().await.unwrap());
    assert_ne!(first, second);
    assert_problem(
        app.get(&first, None).await,
        StatusCode::NOT_FOUND,
        "/problems/not-found",
    )
    .await;
    assert_eq!(app.get(&second, None).await.status(), StatusCode::OK);
    // Revoking: nothing answers.
    let revoke = || {
        app.request(
            Method::DELETE,
            &format!("/doctors/{DOCTOR}/calendar"),
            Some(&medecin),
        )
        .send()
    };
    assert_eq!(revoke().await.unwrap().status(), StatusCode::NO_CONTENT);
    assert_eq!(app.get(&second, None).await.status(), StatusCode::NOT_FOUND);
    assert_eq!(revoke().await.unwrap().status(), StatusCode::NOT_FOUND);
    // Anything else at /calendar/ is 404 too. (A bare `/calendar/..` never reaches the
    // server: the client resolves it to `/`, which is the web app's redirect.)
    for path in [
        "/calendar/x.ics",
        "/calendar/..%2F..%2Fetc%2Fpasswd",
        &second.replace(".ics", ""),
    ] {
        assert_eq!(
            app.get(path, None).await.status(),
            StatusCode::NOT_FOUND,
            "{path}"
        );
    }
}

async fn the_tableau_de_garde_lists_each_position_with_the_cabinets_phone(app: Arc<TestApp>) {
    let coordinateur = publish_two_weeks(&app, 1).await;
    // The phone is a contact field: editable while the cabinet has published slots.
    let r = put_nancy_1(&app, &coordinateur, 1, Some("+33 3 83 12 34 56")).await;
    let status = r.status();
    let body: Value = r.json().await.unwrap();
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["phone"], "03 83 12 34 56");
    let r = put_nancy_1(&app, &coordinateur, 1, Some("15")).await;
    let problem = assert_problem(
        r,
        StatusCode::UNPROCESSABLE_ENTITY,
        "/problems/invalid-request",
    )
    .await;
    assert_eq!(problem["errors"][0]["pointer"], "#/phone");

    let r = app
        .get("/garde/tableau?month=2037-03", Some(&coordinateur))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let text = r.text().await.unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[0],
        "date,jour,debut,fin,cabinet_id,cabinet,commune_insee,telephone,medecin,rpps"
    );
    // 23–27, 28 (Saturday), 30–31 March: eight positions, in order.
    assert_eq!(lines.len(), 9, "{text}");
    assert_eq!(
        lines[6],
        "2037-03-28,samedi,09:00,13:00,NANCY-1,Cabinet NANCY-1,54395,03 83 12 34 56,Dr A,10000000009"
    );
    assert!(
        lines[7].starts_with("2037-03-30,lundi,18:00,20:00,"),
        "{}",
        lines[7]
    );

    let r = app
        .request(
            Method::GET,
            "/garde/tableau?month=2037-04",
            Some(&coordinateur),
        )
        .header(
            "accept",
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let bytes = r.bytes().await.unwrap();
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes.to_vec())).unwrap();
    let mut sheet = String::new();
    std::io::Read::read_to_string(
        &mut zip.by_name("xl/worksheets/sheet1.xml").unwrap(),
        &mut sheet,
    )
    .unwrap();
    // 1–3 April and Saturday 4 April: four positions and the header.
    assert_eq!(sheet.matches("<row ").count(), 5, "{sheet}");

    for bad in [
        "/garde/tableau",
        "/garde/tableau?month=2037-13",
        "/garde/tableau?mois=2037-03",
    ] {
        let r = app.get(bad, Some(&coordinateur)).await;
        assert_problem(
            r,
            StatusCode::UNPROCESSABLE_ENTITY,
            "/problems/invalid-request",
        )
        .await;
    }
}

async fn the_carence_report_lists_the_shifts_still_short_of_doctors(app: Arc<TestApp>) {
    // Two doctors a shift, one available: every shift is one short.
    let coordinateur = publish_two_weeks(&app, 2).await;
    let r = app
        .get("/garde/carence?month=2037-03", Some(&coordinateur))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let text = r.text().await.unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[0],
        "date,jour,debut,fin,cabinet_id,cabinet,commune_insee,telephone,besoin,pourvus,manquants,motif"
    );
    assert_eq!(lines.len(), 9, "{text}");
    assert!(
        lines[6].starts_with("2037-03-28,samedi,09:00,13:00,NANCY-1,Cabinet NANCY-1,54395,,2,1,1,"),
        "{}",
        lines[6]
    );
    // A month with nothing published is an empty report.
    let r = app
        .get("/garde/carence?month=2037-05", Some(&coordinateur))
        .await;
    assert_eq!(r.text().await.unwrap().lines().count(), 1);
}
