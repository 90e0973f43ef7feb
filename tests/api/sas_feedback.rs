//! Appointment feedback to the SAS (INT_R03): bookings made and cancelled reach a FHIR receiver
//! started here over mutual TLS (its own CA, our client certificate required at the
//! handshake), which checks each FrAppointmentSAS against the IG's example
//! (fixtures/fhir-sas/Appointment-1.json) and value sets, and stores it by identifier as the
//! SAS would. The receiver is killed while a create is in flight (its answer lost) and
//! restarted on the same port: every booking arrives, in its last state, created once.

use crate::helpers::{Backend, TestApp};
use crate::mtls::{ca, leaf};
use crate::slots::{in_minutes, seed_plan, seed_slots, store_cabinet};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use cpts::domain::Role;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use serde_json::Value;
use std::collections::{BTreeSet, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::net::TcpListener;
use tokio::sync::{oneshot, watch};
use tokio::task::{JoinHandle, JoinSet};

#[tokio::test]
async fn appointments_reach_the_sas_once_across_a_receiver_crash_sqlite() {
    appointments_reach_the_sas_once_across_a_receiver_crash(Backend::Sqlite).await;
}

#[tokio::test]
async fn appointments_reach_the_sas_once_across_a_receiver_crash_postgres() {
    appointments_reach_the_sas_once_across_a_receiver_crash(Backend::Postgres).await;
}

const PROFILE: &str = "http://sas.fr/fhir/StructureDefinition/FrAppointmentSAS";
const RPPS_SYSTEM: &str = "urn:oid:1.2.250.1.71.4.2.1";
const PUBLIC_URL: &str = "https://cpts.test";
const BOOKING_SYSTEM: &str = "https://cpts.test/fhir/sid/booking";

/// What the receiver keeps across its restarts, as the SAS's database would.
#[derive(Debug, Default)]
struct Received {
    /// Our identifier (`system|value`) → the last Appointment stored for it.
    appointments: HashMap<String, Value>,
    /// Appointments stored for an identifier that had one already (must stay 0).
    duplicate_creates: usize,
    creates: usize,
    updates: usize,
    /// POSTs answered 200 because `If-None-Exist` found the appointment.
    existing: usize,
    requests: usize,
    /// Appointments refused, with why.
    invalid: Vec<String>,
}

/// When to crash, and whom to tell.
type Crash = Option<(usize, oneshot::Sender<()>)>;

#[derive(Clone)]
struct Receiver {
    received: Arc<Mutex<Received>>,
    /// The request number at which the receiver stores the appointment, then never answers,
    /// and whom to tell.
    crash_at: Arc<Mutex<Crash>>,
    /// The example's element paths (`Appointment.participant.actor.identifier.value`).
    golden: Arc<BTreeSet<String>>,
}

fn paths(prefix: &str, v: &Value, out: &mut BTreeSet<String>) {
    match v {
        Value::Object(map) => {
            for (k, child) in map {
                if prefix == "Appointment" && matches!(k.as_str(), "text" | "id") {
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

fn fixture(name: &str) -> Value {
    let path = format!("{}/fixtures/fhir-sas/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// The codes of a ValueSet of the IG, as `system#code`.
fn codes(name: &str) -> BTreeSet<String> {
    let vs = fixture(name);
    let mut out = BTreeSet::new();
    for include in vs["compose"]["include"].as_array().unwrap() {
        for c in include["concept"].as_array().unwrap() {
            out.insert(format!(
                "{}#{}",
                include["system"].as_str().unwrap(),
                c["code"].as_str().unwrap()
            ));
        }
    }
    out
}

impl Receiver {
    /// The identifier token of a valid FrAppointmentSAS, or why it is not one.
    fn check(&self, headers: &HeaderMap, body: &[u8]) -> Result<(String, Value), String> {
        let media = headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        if media != "application/fhir+json" {
            return Err(format!("content type {media}"));
        }
        let a: Value = serde_json::from_slice(body).map_err(|e| e.to_string())?;
        let mut shape = BTreeSet::new();
        paths("Appointment", &a, &mut shape);
        shape.remove("Appointment.resourceType");
        if shape != *self.golden {
            return Err(format!(
                "elements differ from the IG's example: {:?}",
                shape.symmetric_difference(&self.golden).collect::<Vec<_>>()
            ));
        }
        let ok = a["resourceType"] == "Appointment"
            && a["meta"]["profile"][0] == PROFILE
            && matches!(a["status"].as_str(), Some("booked" | "cancelled"));
        if !ok {
            return Err("resourceType, profile or status".to_owned());
        }
        for field in ["start", "end", "created"] {
            chrono::DateTime::parse_from_rfc3339(a[field].as_str().unwrap_or(""))
                .map_err(|_| format!("{field} is not an instant with its zone"))?;
        }
        let doctor = &a["participant"][0]["actor"]["identifier"];
        let idnps = doctor["value"].as_str().unwrap_or("");
        let ok = doctor["system"] == RPPS_SYSTEM
            && idnps.len() == 12
            && idnps.starts_with('8')
            && codes("ValueSet-sas-valueset-participant-status.json").contains(&format!(
                "http://hl7.org/fhir/participationstatus#{}",
                a["participant"][0]["status"].as_str().unwrap_or("")
            ));
        if !ok {
            return Err("participant".to_owned());
        }
        let operator = &a["extension"][0]["valueReference"]["identifier"]["type"]["coding"][0];
        let operator = format!(
            "{}#{}",
            operator["system"].as_str().unwrap_or(""),
            operator["code"].as_str().unwrap_or("")
        );
        if !codes("ValueSet-sas-valueset-typeidentifiant.json").contains(&operator) {
            return Err(format!("operator type {operator}"));
        }
        let id = &a["identifier"][0];
        Ok((
            format!(
                "{}|{}",
                id["system"].as_str().unwrap_or(""),
                id["value"].as_str().unwrap_or("")
            ),
            a,
        ))
    }

    /// Counts the request; at the crash's number, hangs forever (the test aborts the server).
    async fn maybe_crash(&self) {
        let signal = {
            let mut crash = self.crash_at.lock().unwrap();
            let n = self.received.lock().unwrap().requests;
            match crash.take() {
                Some((at, tell)) if at == n => Some(tell),
                other => {
                    *crash = other;
                    None
                }
            }
        };
        if let Some(tell) = signal {
            let _ = tell.send(());
            std::future::pending::<()>().await;
        }
    }
}

/// `POST /fhir/Appointment`, with `If-None-Exist: identifier=…` honoured.
async fn create(State(r): State<Receiver>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let (token, a) = match r.check(&headers, &body) {
        Ok(ok) => ok,
        Err(why) => {
            r.received.lock().unwrap().invalid.push(why);
            return StatusCode::UNPROCESSABLE_ENTITY;
        }
    };
    let condition = headers
        .get("if-none-exist")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("identifier="))
        .map(str::to_owned);
    let status = {
        let mut rec = r.received.lock().unwrap();
        rec.requests += 1;
        if condition.as_deref() != Some(token.as_str()) {
            rec.invalid
                .push(format!("If-None-Exist {condition:?} is not {token}"));
        }
        if rec.appointments.contains_key(&token) && condition.is_some() {
            rec.existing += 1;
            StatusCode::OK
        } else {
            if rec.appointments.insert(token, a).is_some() {
                rec.duplicate_creates += 1;
            }
            rec.creates += 1;
            StatusCode::CREATED
        }
    };
    r.maybe_crash().await;
    status
}

/// `PUT /fhir/Appointment?identifier=…`: updates the one appointment, or creates it.
async fn update(
    State(r): State<Receiver>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let (token, a) = match r.check(&headers, &body) {
        Ok(ok) => ok,
        Err(why) => {
            r.received.lock().unwrap().invalid.push(why);
            return StatusCode::UNPROCESSABLE_ENTITY;
        }
    };
    let status = {
        let mut rec = r.received.lock().unwrap();
        rec.requests += 1;
        if query.get("identifier") != Some(&token) {
            rec.invalid.push(format!(
                "PUT ?identifier={:?} for {token}",
                query.get("identifier")
            ));
        }
        if rec.appointments.insert(token, a).is_some() {
            rec.updates += 1;
            StatusCode::OK
        } else {
            rec.creates += 1;
            StatusCode::CREATED
        }
    };
    r.maybe_crash().await;
    status
}

/// Serves `receiver` over TLS on `listener`, asking every client for a certificate of
/// `clients_ca`; aborting the task closes the listener and every connection.
fn serve(
    listener: TcpListener,
    server: &(String, String),
    clients_ca: &str,
    receiver: Receiver,
) -> JoinHandle<()> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_slice_iter(clients_ca.as_bytes()) {
        roots.add(c.unwrap()).unwrap();
    }
    let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
        Arc::new(roots),
        Arc::clone(&provider),
    )
    .build()
    .unwrap();
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_client_cert_verifier(verifier)
        .with_single_cert(
            vec![CertificateDer::from_pem_slice(server.0.as_bytes()).unwrap()],
            PrivateKeyDer::from_pem_slice(server.1.as_bytes()).unwrap(),
        )
        .unwrap();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let router = Router::new()
        .route("/fhir/Appointment", post(create).put(update))
        .with_state(receiver);
    tokio::spawn(async move {
        // Dropped with the task: every connection ends with it.
        let mut connections = JoinSet::new();
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                continue;
            };
            let (acceptor, router) = (acceptor.clone(), router.clone());
            connections.spawn(async move {
                let Ok(tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(
                        hyper_util::rt::TokioIo::new(tls),
                        hyper_util::service::TowerToHyperService::new(router),
                    )
                    .await;
            });
            while connections.try_join_next().is_some() {}
        }
    })
}

/// Polls `done` every 50 ms until it holds, for at most `limit`.
async fn wait_for<F, Fut>(what: &str, limit: Duration, mut done: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + limit;
    while !done().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn scalar(app: &TestApp, sql: &str) -> i64 {
    let pool = sqlx::AnyPool::connect(&app.database_url).await.unwrap();
    let n: i64 = sqlx::query_scalar(sql).fetch_one(&pool).await.unwrap();
    pool.close().await;
    n
}

async fn appointments_reach_the_sas_once_across_a_receiver_crash(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, text: &str| -> PathBuf {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path
    };
    let sas_ca = ca("CA du SAS de test");
    let our_ca = ca("CA des éditeurs de test");
    let server = leaf(&sas_ca, "sas.test", None, &["127.0.0.1"]);
    let client = leaf(&our_ca, "CPTS-GRAND-NANCY", None, &[]);
    let golden = {
        let mut g = BTreeSet::new();
        paths("Appointment", &fixture("Appointment-1.json"), &mut g);
        g.remove("Appointment.resourceType");
        Arc::new(g)
    };
    let (crashed, crash_seen) = oneshot::channel();
    let receiver = Receiver {
        received: Arc::default(),
        crash_at: Arc::new(Mutex::new(Some((3, crashed)))),
        golden,
    };
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let mut sas = serve(listener, &server, &our_ca.pem, receiver.clone());

    let cert = write("client.pem", &client.0);
    let key = write("client.key", &client.1);
    let ca_file = write("sas-ca.pem", &sas_ca.pem);
    let sas_url = format!("https://127.0.0.1:{port}/fhir");
    let tweak = |c: &mut cpts::config::Config| {
        c.public_url = Some(PUBLIC_URL.to_owned());
        c.sas_url = Some(sas_url.clone());
        c.sas_client_cert = Some(cert.clone());
        c.sas_client_key = Some(key.clone());
        c.sas_ca = Some(ca_file.clone());
        c.sas_retry_seconds = 1;
        c.sas_retry_max_seconds = 2;
    };
    let Some(app) = TestApp::spawn_with(backend, tweak).await else {
        return;
    };
    // A second process's sender on the same outbox: the leases keep them apart.
    let mut config = cpts::config::Config::for_database(&app.database_url);
    tweak(&mut config);
    let other =
        cpts::feedback::Sender::new(app.store.clone(), &config.feedback().unwrap().unwrap())
            .unwrap();
    let (stop_other, other_stopped) = watch::channel(false);
    let other = tokio::spawn(other.run(other_stopped));

    store_cabinet(&app, "NANCY-1", 48.69, 6.18).await;
    seed_plan(&app, "g1", true).await;
    let doctors = ["10000000009", "10000000017"];
    let wanted: Vec<(&str, &str, i64)> = (0..12)
        .map(|i| ("NANCY-1", doctors[i % 2], in_minutes(120 + 15 * i as i64)))
        .collect();
    let slots = seed_slots(&app, "g1", &wanted).await;
    let regulateur = app.token(Role::Regulateur, None).await;
    let (app_ref, token) = (&app, &regulateur);
    let book = move |slot: i64| async move {
        let r = app_ref.book(Some(token), &slot.to_string(), "C15-1").await;
        assert_eq!(r.status(), reqwest::StatusCode::CREATED);
        r.json::<Value>().await.unwrap()["booking_id"]
            .as_i64()
            .unwrap()
    };
    let mut bookings = Vec::new();
    for slot in &slots[..8] {
        bookings.push(book(*slot).await);
    }

    // The third request is stored, then the receiver dies before answering it.
    tokio::time::timeout(Duration::from_secs(30), crash_seen)
        .await
        .expect("the senders reach the receiver")
        .unwrap();
    sas.abort();
    let _ = sas.await;
    // Changes while the SAS is down: three cancellations, two new bookings.
    for id in &bookings[..3] {
        let r = app.cancel_booking(Some(&regulateur), &id.to_string()).await;
        assert_eq!(r.status(), reqwest::StatusCode::OK);
    }
    for slot in &slots[8..10] {
        bookings.push(book(*slot).await);
    }
    wait_for("a failed send", Duration::from_secs(30), || async move {
        scalar(
            app_ref,
            "SELECT COUNT(*) FROM appointment_outbox WHERE failures > 0",
        )
        .await
            > 0
    })
    .await;

    // Back on the same port, with what it had stored.
    let listener = TcpListener::bind(("127.0.0.1", port)).await.unwrap();
    sas = serve(listener, &server, &our_ca.pem, receiver.clone());
    // One more change once it is back.
    let r = app
        .cancel_booking(Some(&regulateur), &bookings[9].to_string())
        .await;
    assert_eq!(r.status(), reqwest::StatusCode::OK);
    wait_for(
        "every change sent",
        Duration::from_secs(60),
        || async move {
            let sql = "SELECT COUNT(*) FROM appointment_outbox WHERE sent_version < version";
            scalar(app_ref, sql).await == 0
        },
    )
    .await;
    let _ = stop_other.send(true);
    other.await.unwrap();

    let failures = scalar(
        &app,
        "SELECT COUNT(*) FROM appointment_outbox WHERE last_error IS NOT NULL",
    )
    .await;
    assert_eq!(failures, 0, "every row's last send succeeded");
    let counts = app.store.outbox_counts().await.unwrap();
    {
        let rec = receiver.received.lock().unwrap();
        assert_eq!(rec.invalid, Vec::<String>::new());
        assert_eq!(rec.duplicate_creates, 0, "an appointment was created twice");
        assert_eq!(
            rec.existing, 0,
            "a create whose answer was lost is followed by conditional updates, never a POST"
        );
        assert_eq!(rec.creates, bookings.len(), "one create per booking");
        assert_eq!(rec.appointments.len(), bookings.len());
        let cancelled = [bookings[0], bookings[1], bookings[2], bookings[9]];
        for id in &bookings {
            let a = &rec.appointments[&format!("{BOOKING_SYSTEM}|{id}")];
            let status = if cancelled.contains(id) {
                "cancelled"
            } else {
                "booked"
            };
            assert_eq!(a["status"], status, "booking {id}");
        }
        assert_eq!(counts.rows, 10);
        assert_eq!(counts.pending, 0);
        assert_eq!(counts.acknowledged_creates, 10);

        eprintln!(
            "INT_R03 ({backend:?}): {} bookings, {} changes; receiver: {} requests stored \
             ({} creates, {} updates, {} creates found existing, {} duplicate creates); \
             outbox: {} sends in all, {} more than the receiver stored (lost or refused \
             while it was down)",
            bookings.len(),
            bookings.len() + cancelled.len(),
            rec.requests,
            rec.creates,
            rec.updates,
            rec.existing,
            rec.duplicate_creates,
            counts.attempts,
            counts.attempts - i64::try_from(rec.requests).unwrap(),
        );
    }
    sas.abort();
    app.teardown().await;
}
