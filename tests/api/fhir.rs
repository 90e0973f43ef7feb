//! `/fhir`: the SAS's slot search (INT_R04, INT_R01) and reads, compared with the IG's own
//! examples (fixtures/fhir-sas/) and checked against its value sets and rules.

use crate::helpers::{TestApp, both_backends};
use crate::slots::{in_minutes, seed_plan, seed_slots};
use cpts::domain::{MatchingDoctor, Role, Rpps};
use cpts::geo::Coordinates;
use reqwest::{Method, Response, StatusCode};
use serde_json::{Value, json};
use sqlx::Executor;
use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

both_backends!(
    the_sas_search_answers_a_searchset_shaped_like_the_igs_example,
    rpps_with_or_without_the_8_and_the_sas_quirks_are_understood,
    an_empty_search_is_an_empty_searchset_and_errors_are_operation_outcomes,
    slots_schedules_practitioners_and_capabilities_are_read,
    a_cabinet_keeps_its_postal_address,
    the_public_slots_are_published_for_smart_scheduling_links,
);

#[tokio::test]
async fn every_resource_we_produce_passes_the_igs_profiles() {
    crate::helpers::run(
        crate::helpers::Backend::Sqlite,
        every_resource_we_produce_passes_the_igs_profiles_on,
    )
    .await;
}

/// The doctors of the tests: A works at NANCY-1 and VANDOEUVRE, B at NANCY-1.
const DOCTOR_A: &str = "10000000009";
const DOCTOR_B: &str = "10000000017";
const FINESS: &str = "540012345";
const RPPS_SYSTEM: &str = "urn:oid:1.2.250.1.71.4.2.1";
const PRACTITIONERS: &str = "schedule.actor:Practitioner.identifier";

impl TestApp {
    /// `GET /fhir/{path_and_query}` with `Accept: application/fhir+json`.
    pub async fn fhir(&self, token: Option<&str>, path_and_query: &str) -> Response {
        self.request(Method::GET, &format!("/fhir/{path_and_query}"), token)
            .header("accept", "application/fhir+json")
            .send()
            .await
            .unwrap()
    }
}

fn fixture(name: &str) -> Value {
    let path = format!("{}/fixtures/fhir-sas/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// The codes of `system` a ValueSet of the IG includes.
fn value_set(name: &str) -> HashMap<String, BTreeSet<String>> {
    let vs = fixture(name);
    let mut out: HashMap<String, BTreeSet<String>> = HashMap::new();
    for include in vs["compose"]["include"].as_array().unwrap() {
        let codes = include["concept"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["code"].as_str().unwrap().to_owned());
        out.entry(include["system"].as_str().unwrap().to_owned())
            .or_default()
            .extend(codes);
    }
    out
}

fn assert_in_value_set(coding: &Value, vs: &HashMap<String, BTreeSet<String>>) {
    let system = coding["system"].as_str().unwrap();
    let code = coding["code"].as_str().unwrap();
    assert!(
        vs.get(system).is_some_and(|codes| codes.contains(code)),
        "{system}#{code} is not in the value set"
    );
}

/// Every element path of a resource (`Slot.meta.security.code`), arrays flattened; `text` (the
/// IG publisher's narrative) and `id`s left out.
fn paths(prefix: &str, v: &Value, out: &mut BTreeSet<String>) {
    match v {
        Value::Object(map) => {
            for (k, child) in map {
                if k == "text" && prefix.matches('.').count() == 0 {
                    continue;
                }
                let p = format!("{prefix}.{k}");
                out.insert(p.clone());
                paths(&p, child, out);
            }
        }
        Value::Array(items) => items.iter().for_each(|i| paths(prefix, i, out)),
        _ => {}
    }
}

fn resource_paths(bundle: &Value) -> HashMap<String, BTreeSet<String>> {
    let mut out: HashMap<String, BTreeSet<String>> = HashMap::new();
    for e in bundle["entry"].as_array().unwrap() {
        let r = &e["resource"];
        let kind = r["resourceType"].as_str().unwrap().to_owned();
        let set = out.entry(kind.clone()).or_default();
        paths(&kind, r, set);
    }
    out
}

async fn execute(app: &TestApp, sql: &str) {
    let pool = sqlx::AnyPool::connect(&app.database_url).await.unwrap();
    pool.execute(sql).await.unwrap();
    pool.close().await;
}

/// Two cabinets of the Grand Nancy CPTS (FINESS 540012345), NANCY-1 with an address and a
/// phone, through the API; doctors A and B; slots of a published plan. Returns the slot ids:
/// A at NANCY-1 in 2 h, 3 h (to be booked) and 4 h (to be withdrawn); A at VANDOEUVRE in
/// 2 h 15; B at NANCY-1 in 2 h 30 and in 20 days.
async fn seed(app: &TestApp) -> Vec<i64> {
    execute(
        app,
        &format!("UPDATE cpts SET finess = '{FINESS}' WHERE id = 'grand_nancy'"),
    )
    .await;
    let coordinator = app.token(Role::Coordinateur, None).await;
    for body in [
        json!({"cabinet_id": "NANCY-1", "name": "Maison médicale de garde de Nancy",
               "lat": 48.6921, "lon": 6.1844, "insee": "54395", "need": 1,
               "phone": "03 83 12 34 56",
               "address": {"line": "12 rue Saint-Dizier", "city": "Nancy", "postcode": "54000"}}),
        json!({"cabinet_id": "VANDOEUVRE", "name": "MMG de Vandœuvre",
               "lat": 48.6567, "lon": 6.1730, "insee": "54547", "need": 1,
               "address": {"line": "1 place de Paris", "city": "Vandœuvre-lès-Nancy",
                           "postcode": "54500"}}),
    ] {
        let r = app
            .request(Method::POST, "/cabinets", Some(&coordinator))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(
            r.status(),
            StatusCode::CREATED,
            "{}",
            r.text().await.unwrap()
        );
    }
    let doctor = |rpps: &str, name: &str| MatchingDoctor {
        rpps: rpps.parse().unwrap(),
        name: name.to_owned(),
        coords: Coordinates::new(48.69, 6.18).unwrap(),
        insee: "54395".parse().unwrap(),
        capacity: 0,
        max_km: None,
    };
    app.seed_doctors(&[
        doctor(DOCTOR_A, "Dr Marie Curie"),
        doctor(DOCTOR_B, "Dr P. Foret"),
    ])
    .await;
    seed_plan(app, "g1", true).await;
    seed_slots(
        app,
        "g1",
        &[
            ("NANCY-1", DOCTOR_A, in_minutes(120)),
            ("NANCY-1", DOCTOR_A, in_minutes(180)),
            ("NANCY-1", DOCTOR_A, in_minutes(240)),
            ("VANDOEUVRE", DOCTOR_A, in_minutes(135)),
            ("NANCY-1", DOCTOR_B, in_minutes(150)),
            ("NANCY-1", DOCTOR_B, in_minutes(20 * 24 * 60)),
        ],
    )
    .await
}

/// Books slot `ids[1]` and withdraws `ids[2]` (a garde repair takes its doctor off).
async fn book_and_withdraw(app: &TestApp, ids: &[i64]) {
    let regulateur = app.token(Role::Regulateur, None).await;
    let r = app
        .book(Some(&regulateur), &ids[1].to_string(), "C15-1")
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    execute(
        app,
        &format!("UPDATE slots SET withdrawn_at = 1 WHERE id = {}", ids[2]),
    )
    .await;
    app.load_board().await;
}

/// A window of the next `hours`, as the SAS writes it: Paris time with its offset, the `+`
/// left unencoded.
fn window(hours: i64) -> String {
    let paris = |t: chrono::DateTime<chrono::Utc>| {
        t.with_timezone(&chrono_tz::Europe::Paris)
            .format("%Y-%m-%dT%H:%M:%S%.3f%:z")
            .to_string()
    };
    let now = chrono::Utc::now();
    format!(
        "start=ge{}&start=le{}",
        paris(now),
        paris(now + chrono::Duration::hours(hours))
    )
}

/// The IG's example request (Bundle-ExampleBundleCPTS1's self link) for `rpps`, over `hours`.
fn sas_request(rpps: &[&str], hours: i64) -> String {
    let ids: Vec<String> = rpps.iter().map(|r| format!("{RPPS_SYSTEM}|8{r}")).collect();
    format!(
        "Slot?_include=Slot:schedule&_include:iterate=Schedule:actor&{}\
         &{PRACTITIONERS}={}&status=free&_include=Slot:service-type-reference\
         &_include:iterate=HealthcareService:organization",
        window(hours),
        ids.join(",")
    )
}

async fn fhir_ok(response: Response) -> Value {
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "application/fhir+json");
    response.json().await.unwrap()
}

async fn assert_outcome(response: Response, status: StatusCode, code: &str) -> Value {
    assert_eq!(response.status(), status);
    assert_eq!(response.headers()["content-type"], "application/fhir+json");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["resourceType"], "OperationOutcome", "{body}");
    assert_eq!(body["issue"][0]["severity"], "error", "{body}");
    assert_eq!(body["issue"][0]["code"], code, "{body}");
    body
}

/// The resource an entry's reference (`Type/id`) names, from the bundle.
fn resolve<'a>(bundle: &'a Value, reference: &str) -> &'a Value {
    bundle["entry"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["resource"])
        .find(|r| {
            format!(
                "{}/{}",
                r["resourceType"].as_str().unwrap(),
                r["id"].as_str().unwrap()
            ) == reference
        })
        .unwrap_or_else(|| panic!("{reference} is not in the bundle"))
}

async fn the_sas_search_answers_a_searchset_shaped_like_the_igs_example(app: Arc<TestApp>) {
    let ids = seed(&app).await;
    book_and_withdraw(&app, &ids).await;
    let regulateur = app.token(Role::Regulateur, None).await;
    let bundle = fhir_ok(
        app.fhir(Some(&regulateur), &sas_request(&[DOCTOR_A, DOCTOR_B], 72))
            .await,
    )
    .await;
    let example = fixture("Bundle-ExampleBundleCPTS1.json");

    // The searchset: total, self link, fullUrls, match then include.
    assert_eq!(bundle["resourceType"], "Bundle");
    assert_eq!(bundle["type"], "searchset");
    assert_eq!(bundle["meta"]["profile"], example["meta"]["profile"]);
    // A's free slots at NANCY-1 (one booked, one withdrawn) and VANDOEUVRE, B's first one;
    // B's slot in 20 days is outside the 3 days.
    assert_eq!(bundle["total"], 3, "{bundle:#}");
    assert_eq!(bundle["link"][0]["relation"], "self");
    let entries = bundle["entry"].as_array().unwrap();
    let kinds: Vec<&str> = entries
        .iter()
        .map(|e| e["resource"]["resourceType"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            "Slot",
            "Slot",
            "Slot",
            "Schedule",
            "Schedule",
            "Schedule",
            "Practitioner",
            "Practitioner",
            "PractitionerRole",
            "PractitionerRole",
            "PractitionerRole",
            "HealthcareService",
            "Organization"
        ]
    );
    let slot_ids: Vec<String> = entries[..3]
        .iter()
        .map(|e| e["resource"]["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(slot_ids, [ids[0], ids[3], ids[4]].map(|i| i.to_string()));
    for (i, e) in entries.iter().enumerate() {
        let r = &e["resource"];
        let full = e["fullUrl"].as_str().unwrap();
        assert!(
            full.starts_with("http://")
                && full.ends_with(&format!(
                    "/fhir/{}/{}",
                    r["resourceType"].as_str().unwrap(),
                    r["id"].as_str().unwrap()
                )),
            "{full}"
        );
        assert_eq!(e["search"]["mode"], if i < 3 { "match" } else { "include" });
        // Every resource claims the profile the IG's example claims for its type.
        let same_type = example["entry"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["resource"]["resourceType"] == r["resourceType"])
            .unwrap();
        assert_eq!(
            r["meta"]["profile"], same_type["resource"]["meta"]["profile"],
            "{r}"
        );
        // FHIR ids: [A-Za-z0-9-.]{1,64}.
        let id = r["id"].as_str().unwrap();
        assert!(
            id.len() <= 64
                && id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.'),
            "{id}"
        );
    }

    // The Slot, as the CPTS profile and its value sets want it.
    let slot = &entries[0]["resource"];
    assert_eq!(slot["status"], "free");
    let security = &slot["meta"]["security"];
    assert_eq!(security.as_array().unwrap().len(), 1);
    assert_eq!(security[0]["code"], "CPTS");
    assert_in_value_set(
        &security[0],
        &value_set("ValueSet-sas-cpts-valueset-typecreneau.json"),
    );
    assert_in_value_set(
        &slot["appointmentType"]["coding"][0],
        &value_set("ValueSet-sas-valueset-appointmentreason.json"),
    );
    assert_eq!(slot["appointmentType"]["coding"][0]["code"], "ROUTINE");
    assert_eq!(slot["serviceType"][0]["coding"][0]["code"], "AMB");
    assert_eq!(
        slot["serviceType"][0]["coding"][0]["system"],
        "http://terminology.hl7.org/CodeSystem/v3-ActCode"
    );
    let cpts = &slot["serviceType"][1];
    assert_in_value_set(
        &cpts["coding"][0],
        &value_set("ValueSet-sas-valueset-categorieetablissement.json"),
    );
    assert_eq!(
        cpts["extension"][0]["url"],
        example["entry"][0]["resource"]["serviceType"][1]["extension"][0]["url"]
    );
    let service = resolve(
        &bundle,
        cpts["extension"][0]["valueReference"]["reference"]
            .as_str()
            .unwrap(),
    );
    assert_eq!(service["resourceType"], "HealthcareService");
    let org = resolve(
        &bundle,
        service["providedBy"]["reference"].as_str().unwrap(),
    );
    // The FINESS rule of sas-cpts-organization-aggregator: ^1[0-9]{9}$.
    let finess = org["identifier"][0]["value"].as_str().unwrap();
    assert_eq!(finess, format!("1{FINESS}"));
    assert!(
        finess.len() == 10 && finess.starts_with('1') && finess.bytes().all(|b| b.is_ascii_digit())
    );
    assert_eq!(org["identifier"][0]["system"], "urn:oid:1.2.250.1.71.4.2.2");
    assert_eq!(
        org["identifier"][0]["type"],
        example["entry"][5]["resource"]["identifier"][0]["type"]
    );
    // The doctor's agenda: the web app's régulation page on his slots around the cabinet.
    assert_eq!(
        slot["comment"],
        format!(
            "{}/app/regulation?medecin={DOCTOR_A}&lat=48.69210&lon=6.18440\
             &lieu=Maison+m%C3%A9dicale+de+garde+de+Nancy",
            app.address
        )
    );
    // Instants with their zone, in Paris time.
    for k in ["start", "end"] {
        let t = slot[k].as_str().unwrap();
        assert!(
            chrono::DateTime::parse_from_rfc3339(t).is_ok()
                && (t.ends_with("+01:00") || t.ends_with("+02:00")),
            "{t}"
        );
    }

    // Schedule → Practitioner and PractitionerRole → contained Location with its address.
    let schedule = resolve(&bundle, slot["schedule"]["reference"].as_str().unwrap());
    let practitioner = resolve(&bundle, schedule["actor"][0]["reference"].as_str().unwrap());
    let role = resolve(&bundle, schedule["actor"][1]["reference"].as_str().unwrap());
    assert_eq!(
        practitioner["identifier"][0]["value"],
        format!("8{DOCTOR_A}")
    );
    assert_eq!(practitioner["identifier"][0]["system"], RPPS_SYSTEM);
    assert_eq!(
        practitioner["identifier"][0]["type"],
        example["entry"][2]["resource"]["identifier"][0]["type"]
    );
    assert_eq!(practitioner["name"][0]["family"], "Curie");
    assert_eq!(practitioner["name"][0]["given"], json!(["Marie"]));
    assert_eq!(
        role["practitioner"]["reference"],
        schedule["actor"][0]["reference"]
    );
    let location = &role["contained"][0];
    assert_eq!(location["resourceType"], "Location");
    assert_eq!(
        role["location"][0]["reference"],
        format!("#{}", location["id"].as_str().unwrap())
    );
    assert_eq!(
        location["address"],
        json!({"line": ["12 rue Saint-Dizier"], "city": "Nancy", "postalCode": "54000"})
    );
    assert_eq!(
        role["telecom"][0],
        json!({"system": "phone", "value": "+33383123456"})
    );
    assert_eq!(
        role["organization"]["identifier"]["value"],
        format!("1{FINESS}")
    );
    assert_eq!(
        role["organization"]["identifier"]["system"],
        "urn:oid:1.2.250.1.71.4.2.2"
    );
    assert_eq!(
        role["organization"]["identifier"]["type"]["coding"][0],
        json!({"system": "http://interopsante.org/fhir/CodeSystem/fr-v2-0203", "code": "IDNST"})
    );

    // The Bundle's slices (sas-cpts-bundle-aggregator): at least four entries, each slice's
    // resource at least once, one self link.
    assert!(entries.len() >= 4);
    assert_eq!(bundle["link"].as_array().unwrap().len(), 1);

    // Golden shape: every element of the IG's example is in ours, but for what we know and
    // say we leave out (README, FHIR section).
    let ours = resource_paths(&bundle);
    let theirs = resource_paths(&example);
    let left_out: BTreeSet<&str> = [
        // The example's third, empty serviceType (`{}`) has no elements; its Organization has
        // a phone, which our CPTS do not store.
        "Organization.telecom",
        "Organization.telecom.system",
        "Organization.telecom.value",
        // Display labels of the example's serviceTypes; the codes say it all.
        "Slot.serviceType.text",
    ]
    .into_iter()
    .collect();
    for (kind, elements) in &theirs {
        let mine = &ours[kind];
        let missing: Vec<&String> = elements
            .iter()
            .filter(|p| !mine.contains(*p) && !left_out.contains(p.as_str()))
            .collect();
        assert!(missing.is_empty(), "{kind}: missing {missing:?}");
    }
}

async fn rpps_with_or_without_the_8_and_the_sas_quirks_are_understood(app: Arc<TestApp>) {
    let ids = seed(&app).await;
    let regulateur = app.token(Role::Regulateur, None).await;
    let bundle_of = |b: &Value| -> Vec<String> {
        b["entry"]
            .as_array()
            .map(|e| {
                e.iter()
                    .filter(|e| e["search"]["mode"] == "match")
                    .map(|e| e["resource"]["id"].as_str().unwrap().to_owned())
                    .collect()
            })
            .unwrap_or_default()
    };
    let a_first_three: Vec<String> = [ids[0], ids[3], ids[1]].map(|i| i.to_string()).to_vec();
    // With the 8, the IG's request (its `+` and `|` unencoded).
    let with_8 = fhir_ok(
        app.fhir(Some(&regulateur), &sas_request(&[DOCTOR_A], 72))
            .await,
    )
    .await;
    assert_eq!(bundle_of(&with_8)[..3], a_first_three);
    // Without the 8, `%7C` and an encoded `+`, naive Paris times, the DSTU2 media type.
    let paris = chrono::Utc::now().with_timezone(&chrono_tz::Europe::Paris);
    let naive = |t: chrono::DateTime<chrono_tz::Tz>| t.format("%Y-%m-%dT%H:%M:%S").to_string();
    let q = format!(
        "Slot?{PRACTITIONERS}=urn:oid:1.2.250.1.71.4.2.1%7C{DOCTOR_A}&start=ge{}&start=le{}\
         &_count=2",
        naive(paris),
        naive(paris + chrono::Duration::hours(72))
    );
    let r = app
        .request(Method::GET, &format!("/fhir/{q}"), Some(&regulateur))
        .header("accept", "application/json+fhir")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["content-type"], "application/json+fhir");
    let without_8: Value = r.json().await.unwrap();
    // `_count` cuts the page, not the total; without `_include`, Slots only.
    assert_eq!(without_8["total"], 4);
    assert_eq!(bundle_of(&without_8), a_first_three[..2]);
    assert_eq!(without_8["entry"].as_array().unwrap().len(), 2);
    // Always answered with the 8.
    let link = without_8["link"][0]["url"].as_str().unwrap();
    assert!(link.contains(&format!("8{DOCTOR_A}")), "{link}");
    // An offset sent as `%2B02:00` and the same instant in UTC: the same slots.
    let utc = |t: chrono::DateTime<chrono::Utc>| t.format("%Y-%m-%dT%H:%M:%SZ").to_string();
    let now = chrono::Utc::now();
    let q = format!(
        "Slot?{PRACTITIONERS}={DOCTOR_A},{DOCTOR_B}&start=ge{}&start=lt{}",
        utc(now),
        utc(now + chrono::Duration::hours(72))
    );
    let both = fhir_ok(app.fhir(Some(&regulateur), &q).await).await;
    assert_eq!(both["total"], 5);
}

async fn an_empty_search_is_an_empty_searchset_and_errors_are_operation_outcomes(
    app: Arc<TestApp>,
) {
    seed(&app).await;
    let regulateur = app.token(Role::Regulateur, None).await;
    // A doctor without slots: a valid empty searchset.
    let other = Rpps::with_check_digit("1000000002").unwrap();
    let empty = fhir_ok(
        app.fhir(Some(&regulateur), &sas_request(&[other.as_str()], 72))
            .await,
    )
    .await;
    assert_eq!(empty["resourceType"], "Bundle");
    assert_eq!(empty["type"], "searchset");
    assert_eq!(empty["total"], 0);
    assert!(empty.get("entry").is_none());

    // Bad parameters: 400, each named.
    for (q, parameter) in [
        ("Slot?status=free".to_owned(), PRACTITIONERS),
        (format!("Slot?{PRACTITIONERS}=123"), PRACTITIONERS),
        (
            format!("Slot?{PRACTITIONERS}={DOCTOR_A}&start=tomorrow"),
            "start",
        ),
        (
            format!("Slot?{PRACTITIONERS}={DOCTOR_A}&status=busy"),
            "status",
        ),
        (
            format!("Slot?{PRACTITIONERS}={DOCTOR_A}&_count=x"),
            "_count",
        ),
        (
            format!("Slot?{PRACTITIONERS}={DOCTOR_A}&start=ge2026-01-01&start=le2026-03-01"),
            "start",
        ),
        ("Practitioner?identifier=abc".to_owned(), "identifier"),
        ("Practitioner".to_owned(), "identifier"),
    ] {
        let body = assert_outcome(
            app.fhir(Some(&regulateur), &q).await,
            StatusCode::BAD_REQUEST,
            "invalid",
        )
        .await;
        assert_eq!(body["issue"][0]["expression"][0], parameter, "{q}: {body}");
    }
    let many: Vec<String> = (1..=26)
        .map(|i| {
            Rpps::with_check_digit(&format!("10000{i:05}"))
                .unwrap()
                .to_string()
        })
        .collect();
    assert_outcome(
        app.fhir(
            Some(&regulateur),
            &format!("Slot?{PRACTITIONERS}={}", many.join(",")),
        )
        .await,
        StatusCode::BAD_REQUEST,
        "invalid",
    )
    .await;
    assert_eq!(
        app.fhir(
            Some(&regulateur),
            &format!("Slot?{PRACTITIONERS}={}", many[..25].join(","))
        )
        .await
        .status(),
        StatusCode::OK
    );

    // Who: no token 401, another role 403, both as OperationOutcome.
    let q = sas_request(&[DOCTOR_A], 72);
    let r = app.fhir(None, &q).await;
    assert_eq!(r.headers()["www-authenticate"], "Bearer");
    assert_outcome(r, StatusCode::UNAUTHORIZED, "login").await;
    let medecin = app.medecin(&DOCTOR_A.parse().unwrap()).await;
    assert_outcome(
        app.fhir(Some(&medecin), &q).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    // An Accept refusing FHIR JSON: 406.
    let r = app
        .request(Method::GET, &format!("/fhir/{q}"), Some(&regulateur))
        .header("accept", "text/csv")
        .send()
        .await
        .unwrap();
    assert_outcome(r, StatusCode::NOT_ACCEPTABLE, "not-supported").await;
}

async fn slots_schedules_practitioners_and_capabilities_are_read(app: Arc<TestApp>) {
    let ids = seed(&app).await;
    book_and_withdraw(&app, &ids).await;
    let regulateur = app.token(Role::Regulateur, None).await;
    let free = fhir_ok(
        app.fhir(Some(&regulateur), &format!("Slot/{}", ids[0]))
            .await,
    )
    .await;
    assert_eq!(
        (free["resourceType"].as_str(), free["status"].as_str()),
        (Some("Slot"), Some("free"))
    );
    let booked = fhir_ok(
        app.fhir(Some(&regulateur), &format!("Slot/{}", ids[1]))
            .await,
    )
    .await;
    assert_eq!(booked["status"], "busy");
    for gone in [
        ids[2].to_string(),
        "999999999".to_owned(),
        "x".to_owned(),
        "-1".to_owned(),
    ] {
        assert_outcome(
            app.fhir(Some(&regulateur), &format!("Slot/{gone}")).await,
            StatusCode::NOT_FOUND,
            "not-found",
        )
        .await;
    }
    // The Slot's Schedule reads back; another shape or pair does not.
    let schedule_ref = free["schedule"]["reference"].as_str().unwrap();
    let schedule = fhir_ok(app.fhir(Some(&regulateur), schedule_ref).await).await;
    assert_eq!(schedule["resourceType"], "Schedule");
    assert_eq!(
        format!("Schedule/{}", schedule["id"].as_str().unwrap()),
        schedule_ref
    );
    assert_eq!(
        schedule["actor"][0]["reference"],
        format!("Practitioner/{DOCTOR_A}")
    );
    let key = schedule_ref.rsplit('-').next().unwrap();
    for other in [
        format!("Schedule/{DOCTOR_B}-0000000000000000"),
        format!("Schedule/10000000025-{key}"),
        "Schedule/x".to_owned(),
    ] {
        assert_outcome(
            app.fhir(Some(&regulateur), &other).await,
            StatusCode::NOT_FOUND,
            "not-found",
        )
        .await;
    }
    // Practitioners by RPPS, with or without the 8 and the system.
    for q in [
        format!("8{DOCTOR_B}"),
        DOCTOR_B.to_owned(),
        format!("{RPPS_SYSTEM}%7C8{DOCTOR_B}"),
    ] {
        let b = fhir_ok(
            app.fhir(Some(&regulateur), &format!("Practitioner?identifier={q}"))
                .await,
        )
        .await;
        assert_eq!(b["total"], 1);
        let p = &b["entry"][0]["resource"];
        assert_eq!(p["identifier"][0]["value"], format!("8{DOCTOR_B}"));
        assert_eq!(p["name"][0]["family"], "Foret");
    }
    let unknown = Rpps::with_check_digit("1000000002").unwrap();
    let b = fhir_ok(
        app.fhir(
            Some(&regulateur),
            &format!("Practitioner?identifier={unknown}"),
        )
        .await,
    )
    .await;
    assert_eq!(b["total"], 0);

    // The capabilities, without a token: what the routes above implement.
    let cs = fhir_ok(app.fhir(None, "metadata").await).await;
    assert_eq!(cs["resourceType"], "CapabilityStatement");
    assert_eq!(cs["fhirVersion"], "4.0.1");
    let resources: Vec<(&str, Vec<&str>)> = cs["rest"][0]["resource"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["type"].as_str().unwrap(),
                r["interaction"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|i| i["code"].as_str().unwrap())
                    .collect(),
            )
        })
        .collect();
    assert_eq!(
        resources,
        [
            ("Slot", vec!["read", "search-type"]),
            ("Schedule", vec!["read"]),
            ("Practitioner", vec!["search-type"])
        ]
    );
}

async fn a_cabinet_keeps_its_postal_address(app: Arc<TestApp>) {
    let coordinator = app.token(Role::Coordinateur, None).await;
    let mut body = json!({"cabinet_id": "NANCY-1", "name": "MMG", "lat": 48.6921, "lon": 6.1844,
                          "insee": "54395", "need": 1,
                          "address": {"line": "12 rue Saint-Dizier", "city": "Nancy", "postcode": "54000"}});
    let r = app
        .request(Method::POST, "/cabinets", Some(&coordinator))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let got: Value = app
        .get("/cabinets/NANCY-1", Some(&coordinator))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(got["address"], body["address"]);
    let stored = app
        .store
        .cabinet(&"NANCY-1".parse().unwrap(), None)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.address.unwrap().postcode.as_str(), "54000");
    // Replaced without one: gone.
    body.as_object_mut().unwrap().remove("cabinet_id");
    body.as_object_mut().unwrap().remove("address");
    let r = app
        .request(Method::PUT, "/cabinets/NANCY-1", Some(&coordinator))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK, "{}", r.text().await.unwrap());
    let got: Value = app
        .get("/cabinets/NANCY-1", Some(&coordinator))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(got["address"], Value::Null);
    // A bad part is a 422 at its pointer; a missing part too.
    for (address, pointer) in [
        (
            json!({"line": "1 rue", "city": "Nancy", "postcode": "5400"}),
            "#/address/postcode",
        ),
        (
            json!({"line": "", "city": "Nancy", "postcode": "54000"}),
            "#/address/line",
        ),
        (
            json!({"line": "1 rue", "postcode": "54000"}),
            "#/address/city",
        ),
    ] {
        body["address"] = address;
        let r = app
            .request(Method::PUT, "/cabinets/NANCY-1", Some(&coordinator))
            .json(&body)
            .send()
            .await
            .unwrap();
        let problem = crate::helpers::assert_problem(
            r,
            StatusCode::UNPROCESSABLE_ENTITY,
            "/problems/invalid-request",
        )
        .await;
        assert_eq!(
            crate::helpers::only_error(&problem)["pointer"],
            pointer,
            "{problem}"
        );
    }
}

/// `GET` an absolute URL of ours (a manifest's output), without a token.
async fn get_public(app: &TestApp, url: &str) -> Response {
    assert!(url.starts_with(&app.address), "{url} is not ours");
    app.client.get(url).send().await.unwrap()
}

/// The lines of an NDJSON answer, parsed.
async fn ndjson(response: Response) -> Vec<Value> {
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers()["content-type"],
        "application/fhir+ndjson"
    );
    assert_eq!(response.headers()["cache-control"], "public, max-age=60");
    let text = response.text().await.unwrap();
    assert!(text.is_empty() || text.ends_with('\n'));
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

async fn the_public_slots_are_published_for_smart_scheduling_links(app: Arc<TestApp>) {
    let ids = seed(&app).await;
    // The manifest, without a token.
    let r = app
        .request(Method::GET, "/fhir/$bulk-publish", None)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["cache-control"], "public, max-age=60");
    let manifest: Value = r.json().await.unwrap();
    assert_eq!(
        manifest["request"],
        format!("{}/fhir/$bulk-publish", app.address)
    );
    assert!(manifest["transactionTime"].as_str().unwrap().ends_with('Z'));
    assert_eq!(manifest["error"], json!([]));
    let outputs = manifest["output"].as_array().unwrap();
    let kinds: Vec<&str> = outputs
        .iter()
        .map(|o| o["type"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["Location", "Schedule", "Slot"]);
    let url = |i: usize| outputs[i]["url"].as_str().unwrap().to_owned();

    let locations = ndjson(get_public(&app, &url(0)).await).await;
    assert_eq!(locations.len(), 2, "{locations:?}");
    let nancy = locations
        .iter()
        .find(|l| l["identifier"][0]["value"] == "NANCY-1")
        .unwrap();
    assert_eq!(nancy["resourceType"], "Location");
    assert_eq!(nancy["name"], "Maison médicale de garde de Nancy");
    assert_eq!(nancy["address"]["postalCode"], "54000");
    assert_eq!(nancy["address"]["district"], "54");
    assert_eq!(
        nancy["telecom"][0],
        json!({"system": "phone", "value": "+33383123456"})
    );
    let schedules = ndjson(get_public(&app, &url(1)).await).await;
    assert_eq!(schedules.len(), 2);
    let location_ids: BTreeSet<String> = locations
        .iter()
        .map(|l| format!("Location/{}", l["id"].as_str().unwrap()))
        .collect();
    for s in &schedules {
        assert!(location_ids.contains(s["actor"][0]["reference"].as_str().unwrap()));
        assert_eq!(s["serviceType"][0]["coding"][0]["code"], "124");
    }

    // Every slot of the next 28 days; a free one links to the régulation page on itself.
    let slots = ndjson(get_public(&app, &url(2)).await).await;
    let listed: BTreeSet<i64> = slots
        .iter()
        .map(|s| s["id"].as_str().unwrap().parse().unwrap())
        .collect();
    assert_eq!(listed, ids.iter().copied().collect::<BTreeSet<_>>());
    let schedule_ids: BTreeSet<String> = schedules
        .iter()
        .map(|s| format!("Schedule/{}", s["id"].as_str().unwrap()))
        .collect();
    for s in &slots {
        assert_eq!(s["status"], "free");
        assert!(schedule_ids.contains(s["schedule"]["reference"].as_str().unwrap()));
        let link = s["extension"][0]["valueUrl"].as_str().unwrap();
        assert_eq!(
            s["extension"][0]["url"],
            "http://fhir-registry.smarthealthit.org/StructureDefinition/booking-deep-link"
        );
        assert!(
            link.starts_with(&format!(
                "{}/app/regulation?creneau={}&debut=",
                app.address,
                s["id"].as_str().unwrap()
            )),
            "{link}"
        );
    }

    // A conditional request of the same file: 304; a change: a new ETag.
    let first = get_public(&app, &url(2)).await;
    let etag = first.headers()["etag"].to_str().unwrap().to_owned();
    let again = app
        .client
        .get(url(2))
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED);

    // Booked and withdrawn since `since`: exactly these two, busy and busy-unavailable.
    let since = chrono::Utc::now().timestamp();
    let regulateur = app.token(Role::Regulateur, None).await;
    let r = app
        .book(Some(&regulateur), &ids[1].to_string(), "C15-1")
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    execute(
        &app,
        &format!(
            "UPDATE slots SET withdrawn_at = {} WHERE id = {}",
            chrono::Utc::now().timestamp(),
            ids[2]
        ),
    )
    .await;
    let changed = app
        .client
        .get(url(2))
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(
        changed.status(),
        StatusCode::OK,
        "the file changed: a new ETag"
    );
    let since_text = chrono::DateTime::from_timestamp(since, 0)
        .unwrap()
        .to_rfc3339();
    let r = app
        .request(Method::GET, "/fhir/$bulk-publish", None)
        .query(&[("_since", since_text.as_str())])
        .send()
        .await
        .unwrap();
    let manifest: Value = r.json().await.unwrap();
    let slot_url = manifest["output"][2]["url"].as_str().unwrap().to_owned();
    assert!(slot_url.contains("_since="), "{slot_url}");
    let recent = ndjson(get_public(&app, &slot_url).await).await;
    let states: Vec<(String, String)> = recent
        .iter()
        .map(|s| {
            (
                s["id"].as_str().unwrap().to_owned(),
                s["status"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        states,
        [
            (ids[1].to_string(), "busy".to_owned()),
            (ids[2].to_string(), "busy-unavailable".to_owned())
        ]
    );
    assert!(recent.iter().all(|s| s.get("extension").is_none()));
    // The whole file: the booked one busy, the withdrawn one gone.
    let all = ndjson(get_public(&app, &url(2)).await).await;
    assert_eq!(all.len(), ids.len() - 1);
    assert!(
        all.iter()
            .any(|s| s["id"].as_str() == Some(ids[1].to_string().as_str()) && s["status"] == "busy")
    );

    // Errors: a bad `_since` names it; an unknown file is 404; both as OperationOutcome.
    let r = app
        .request(Method::GET, "/fhir/$bulk-publish?_since=yesterday", None)
        .send()
        .await
        .unwrap();
    let body = assert_outcome(r, StatusCode::BAD_REQUEST, "invalid").await;
    assert_eq!(body["issue"][0]["expression"][0], "_since");
    let r = app
        .request(Method::GET, "/fhir/$bulk-publish/Patient.ndjson", None)
        .send()
        .await
        .unwrap();
    assert_outcome(r, StatusCode::NOT_FOUND, "not-found").await;
}

fn validator_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fhir")
}

/// Whether the validator can run (Node.js, and its packages, installed once); with `CI=true`
/// a missing Node.js is a failure.
fn validator() -> bool {
    crate::helpers::node_packages("fhir", "@medplum/core", "the FHIR profile validation")
}

/// Runs tests/fhir/validate.mjs on `files`: its JSON report and whether it passed.
fn validate(files: &[PathBuf]) -> (Value, bool) {
    let package = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/fhir-sas/package.tgz");
    let out = Command::new("node")
        .arg(validator_dir().join("validate.mjs"))
        .arg(package)
        .args(files)
        .output()
        .expect("node runs");
    let report: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "the validator said no report ({e}): {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (report, out.status.success())
}

fn write(dir: &Path, name: &str, value: &Value) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, serde_json::to_vec_pretty(value).unwrap()).unwrap();
    path
}

async fn every_resource_we_produce_passes_the_igs_profiles_on(app: Arc<TestApp>) {
    if !validator() {
        return;
    }
    let ids = seed(&app).await;
    book_and_withdraw(&app, &ids).await;
    // A cabinet whose address is not known yet.
    execute(
        &app,
        "UPDATE cabinets SET address_line = NULL, address_city = NULL, address_postcode = NULL \
         WHERE cabinet_id = 'VANDOEUVRE'",
    )
    .await;
    let regulateur = app.token(Role::Regulateur, None).await;
    let dir = tempfile::tempdir().unwrap();
    let mut files = Vec::new();

    // The IG's example request, both doctors, the CPTS (INT_R04).
    let bundle = fhir_ok(
        app.fhir(
            Some(&regulateur),
            &sas_request(&[DOCTOR_A, DOCTOR_B], 24 * 21),
        )
        .await,
    )
    .await;
    assert!(bundle["entry"].as_array().unwrap().len() >= 9, "{bundle}");
    files.push(write(dir.path(), "search.json", &bundle));
    for (name, path) in [
        ("slot-free.json", format!("Slot/{}", ids[0])),
        ("slot-busy.json", format!("Slot/{}", ids[1])),
        ("metadata.json", "metadata".to_owned()),
        (
            "practitioner.json",
            format!("Practitioner?identifier={RPPS_SYSTEM}%7C8{DOCTOR_A}"),
        ),
    ] {
        let v = fhir_ok(app.fhir(Some(&regulateur), &path).await).await;
        files.push(write(dir.path(), name, &v));
    }
    let schedule = bundle["entry"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["resource"]["resourceType"] == "Schedule")
        .unwrap()["resource"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let v = fhir_ok(
        app.fhir(Some(&regulateur), &format!("Schedule/{schedule}"))
            .await,
    )
    .await;
    files.push(write(dir.path(), "schedule.json", &v));
    // An error.
    let r = app.fhir(Some(&regulateur), "Slot?start=soon").await;
    let outcome = assert_outcome(r, StatusCode::BAD_REQUEST, "invalid").await;
    files.push(write(dir.path(), "outcome.json", &outcome));
    // The appointment feedback (INT_R03), booked by a person with an RPPS, then cancelled
    // by a token.
    let systems = cpts::fhir::appointment::Systems::at(&app.address);
    for (name, cancelled, identity) in [
        (
            "appointment-booked.json",
            None,
            Some(format!("rpps:{DOCTOR_B}")),
        ),
        ("appointment-cancelled.json", Some(1_772_471_000), None),
    ] {
        let row = cpts::store::AppointmentRow {
            booking_id: 7,
            rpps: DOCTOR_A.parse().unwrap(),
            start_at: 1_772_470_800,
            end_at: 1_772_471_700,
            created_at: 1_772_460_000,
            cancelled_at: cancelled,
            booked_by: "tok-1".to_owned(),
            booked_by_identity: identity,
        };
        let a = serde_json::to_value(cpts::fhir::Resource::Appointment(
            cpts::fhir::appointment::appointment(&systems, &row),
        ))
        .unwrap();
        files.push(write(dir.path(), name, &a));
    }
    // The SMART Scheduling Links files, plain R4.
    for file in ["Location", "Schedule", "Slot"] {
        let r = app
            .request(
                Method::GET,
                &format!("/fhir/$bulk-publish/{file}.ndjson"),
                None,
            )
            .send()
            .await
            .unwrap();
        for (i, line) in ndjson(r).await.iter().enumerate() {
            files.push(write(dir.path(), &format!("bulk-{file}-{i}.json"), line));
        }
    }

    let (report, passed) = validate(&files);
    println!("{}", serde_json::to_string_pretty(&report).unwrap());
    assert!(passed && report["issues"] == json!([]), "{report:#}");
    // Every SAS profile we claim was checked, and only the known false alarms set aside.
    let checked: BTreeSet<&str> = report["byProfile"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    for profile in [
        "https://interop.esante.gouv.fr/ig/fhir/sas/StructureDefinition/sas-cpts-slot-aggregator",
        "http://sas.fr/fhir/StructureDefinition/FrScheduleAgregateur",
        "http://sas.fr/fhir/StructureDefinition/FrPractitionerAgregateur",
        "http://sas.fr/fhir/StructureDefinition/FrPractitionerRoleExerciceAgregateur",
        "https://interop.esante.gouv.fr/ig/fhir/sas/StructureDefinition/sas-cpts-healthcareservice-aggregator",
        "https://interop.esante.gouv.fr/ig/fhir/sas/StructureDefinition/sas-cpts-organization-aggregator",
        "http://sas.fr/fhir/StructureDefinition/FrAppointmentSAS",
        "base:CapabilityStatement",
        "base:OperationOutcome",
        "base:Location",
        "base:Slot",
    ] {
        assert!(
            checked.contains(profile),
            "{profile} not checked: {checked:?}"
        );
    }

    // The validator can fail: an Organization whose IDNST breaks the IG's FINESS rule, and a
    // Slot without its status.
    let mut broken = bundle.clone();
    for e in broken["entry"].as_array_mut().unwrap() {
        match e["resource"]["resourceType"].as_str() {
            Some("Organization") => e["resource"]["identifier"][0]["value"] = json!("1234"),
            Some("Slot") => {
                e["resource"].as_object_mut().unwrap().remove("status");
            }
            _ => {}
        }
    }
    let (report, passed) = validate(&[write(dir.path(), "broken.json", &broken)]);
    assert!(!passed, "{report:#}");
    let messages = report["issues"].to_string();
    assert!(messages.contains("Organization"), "{messages}");
    assert!(messages.contains("Slot.status"), "{messages}");
}
