//! Calendar feeds (issue 18): a GP's published garde shifts at a secret URL, read back by an
//! iCalendar parser, across the spring clock change; renewed and revoked URLs stop answering.

use crate::helpers::{TestApp, assert_problem, both_backends};
use cpts::domain::Role;
use icalendar::{Calendar, CalendarComponent, CalendarDateTime, Component, DatePerhapsTime};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::sync::Arc;

both_backends!(a_gp_subscribes_to_his_shifts_and_renews_or_revokes_the_url);

const DOCTOR: &str = "10000000009";

async fn a_gp_subscribes_to_his_shifts_and_renews_or_revokes_the_url(app: Arc<TestApp>) {
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
    // Two weeks around the 2037 spring change (Sunday 29 March): every shift is his.
    app.seed_garde_doctor(DOCTOR, 20, "2037-03-23T08:00:00", "2037-04-05T00:00:00")
        .await;
    let coordinateur = app.token(Role::Coordinateur, None).await;
    let plan = app
        .run_plan(
            &coordinateur,
            &json!({"period": {"start": "2037-03-23", "end": "2037-04-04"}}),
        )
        .await;
    let r = app.publish_plan(Some(&coordinateur), &plan).await;
    assert_eq!(r.status(), StatusCode::OK);

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
    // Anything else at /calendar/ is 404 too.
    for path in [
        "/calendar/x.ics",
        "/calendar/..",
        &second.replace(".ics", ""),
    ] {
        assert_eq!(
            app.get(path, None).await.status(),
            StatusCode::NOT_FOUND,
            "{path}"
        );
    }
}
