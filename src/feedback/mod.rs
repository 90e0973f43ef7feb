//! Appointment feedback to the SAS (IG flux INT_R03): the sender of the durable outbox.
//!
//! Each change of a booking (made, cancelled, moved to another slot or doctor) touches the
//! booking's row of `appointment_outbox` in the transaction of the change (`store`). A
//! [`Sender`], started by `cpts serve` when `--sas-url` is set, then:
//!
//! * **claims** one due row under a lease ([`LEASE`]), so several processes never send the
//!   same booking at once, and a sender that died leaves its rows to the others;
//! * **sends** the booking's state as it is now, as an FrAppointmentSAS
//!   ([`crate::fhir::appointment`]), over mutual TLS (rustls, our client certificate):
//!   - the first time, `POST [SAS]/Appointment` with `If-None-Exist: identifier=…`, after
//!     recording durably that a create left (`create_tried_at`);
//!   - afterwards, and whenever a create's answer was lost (connection dropped, process
//!     killed), a conditional update `PUT [SAS]/Appointment?identifier=<system>|<booking id>`,
//!     which updates the appointment the SAS has or creates it if the lost create never
//!     arrived; a create already acknowledged (`create_acked_at`) is never sent again;
//! * **records** the version sent, or on failure waits `retry × 2^failures` seconds, at most
//!   `retry_max`, less up to a fifth at random (so that rows that failed together do not come
//!   back together), before the row is due again; a later change of the booking makes it due
//!   at once;
//! * **parks** a row the SAS **refused** (400, 405, 406, 410, 412, 413, 415, 422: sending the
//!   same resource again cannot succeed) for [`PARKED`]: it is tried again then, or at once
//!   when the booking changes, and counted in `cpts_sas_appointments_refused_total` for an
//!   alert. Transport errors, timeouts, 401/403 (a certificate not yet accepted), 404, 408, 429
//!   and 5xx are retried with the backoff.
//!
//! Logs and metrics name bookings by their id (random, pseudonymous), never a patient. No SQL
//! here (`store`), no FHIR shapes (`fhir`).

use crate::fhir::appointment::{Systems, appointment};
use crate::fhir::{FHIR_JSON, Resource};
use crate::store::{self, Store};
use std::path::PathBuf;
use std::time::Duration;
use tokio::sync::watch;

/// How long a claim holds a row: longer than a send may take ([`REQUEST_TIMEOUT`]).
pub const LEASE: Duration = Duration::from_secs(60);
/// The longest a request to the SAS may take.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// How often an idle sender looks for due rows.
pub const POLL: Duration = Duration::from_millis(500);
/// How long a row the SAS refused waits before it is tried again (unless its booking changes).
pub const PARKED: Duration = Duration::from_secs(24 * 3600);

/// Whether an answer of the SAS refuses the resource itself, so that resending it as is
/// cannot succeed (FHIR RESTful API: 400 invalid, 412 several matches of a condition, 422
/// failed its profile…).
pub fn refused(status: u16) -> bool {
    matches!(status, 400 | 405 | 406 | 410 | 412 | 413 | 415 | 422)
}

/// Where the SAS is and how to reach it (`--sas-url`, `--sas-client-cert`, …).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Settings {
    /// The SAS's FHIR base, no trailing slash.
    pub sas_url: String,
    pub client_cert: PathBuf,
    pub client_key: PathBuf,
    /// The CAs trusted for the SAS's certificate; `None`: the web's roots.
    pub ca: Option<PathBuf>,
    /// Our public URL: the base of our identifier systems.
    pub public_url: String,
    /// The first wait after a failure.
    pub retry: Duration,
    /// The longest wait.
    pub retry_max: Duration,
}

/// Why the sender cannot be set up; each names its file.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot read {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} is not a usable PEM certificate or key")]
    Pem {
        path: PathBuf,
        #[source]
        source: reqwest::Error,
    },
    #[error("cannot build the SAS's HTTPS client")]
    Client(#[source] reqwest::Error),
}

/// What a send did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sent {
    /// `POST`, acknowledged (201, or 200: it existed).
    Created,
    /// Conditional `PUT`, acknowledged.
    Updated,
    /// The SAS refused it or could not be reached: due again later.
    Failed,
    /// Another sender took the row over (our lease ran out): nothing recorded.
    LostLease,
}

/// The sender of one process. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Sender {
    store: Store,
    http: reqwest::Client,
    base: String,
    systems: Systems,
    /// This sender's name in leases: random, so two processes never share one.
    owner: String,
    retry: Duration,
    retry_max: Duration,
}

fn read(path: &PathBuf) -> Result<Vec<u8>, Error> {
    std::fs::read(path).map_err(|source| Error::Read {
        path: path.clone(),
        source,
    })
}

impl Sender {
    /// A sender over `store` to the SAS of `settings`; it reads the PEM files now.
    ///
    /// # Errors
    /// [`Error`] naming a missing or unusable file.
    pub fn new(store: Store, settings: &Settings) -> Result<Self, Error> {
        let mut pem = read(&settings.client_cert)?;
        pem.push(b'\n');
        pem.extend(read(&settings.client_key)?);
        let identity = reqwest::Identity::from_pem(&pem).map_err(|source| Error::Pem {
            path: settings.client_key.clone(),
            source,
        })?;
        let mut builder = reqwest::Client::builder()
            .use_rustls_tls()
            .https_only(true)
            .identity(identity)
            .timeout(REQUEST_TIMEOUT)
            .connect_timeout(REQUEST_TIMEOUT / 2)
            .redirect(reqwest::redirect::Policy::none());
        if let Some(ca) = &settings.ca {
            let roots =
                reqwest::Certificate::from_pem_bundle(&read(ca)?).map_err(|source| Error::Pem {
                    path: ca.clone(),
                    source,
                })?;
            builder = builder.tls_built_in_root_certs(false);
            for root in roots {
                builder = builder.add_root_certificate(root);
            }
        }
        Ok(Self {
            store,
            http: builder.build().map_err(Error::Client)?,
            base: settings.sas_url.trim_end_matches('/').to_owned(),
            systems: Systems::at(&settings.public_url),
            owner: crate::jobs::new_id(),
            retry: settings.retry,
            retry_max: settings.retry_max,
        })
    }

    /// Sends until `stop` turns true: the due rows one by one, then a wait of [`POLL`]. A
    /// database that fails is logged and tried again after the wait.
    pub async fn run(self, mut stop: watch::Receiver<bool>) {
        tracing::info!("sending appointment feedback to the SAS");
        loop {
            if *stop.borrow() {
                return;
            }
            match self.send_due().await {
                Ok(Some(_)) => continue,
                Ok(None) => {}
                Err(e) => tracing::warn!(error = %e, "cannot read the appointment outbox now"),
            }
            tokio::select! {
                () = tokio::time::sleep(POLL) => {}
                _ = stop.wait_for(|s| *s) => return,
            }
        }
    }

    /// Claims one due row and sends it; `None` when nothing is due.
    ///
    /// # Errors
    /// [`store::Error`] when the database fails (the row's lease then runs out and it is
    /// claimed again).
    pub async fn send_due(&self) -> Result<Option<Sent>, store::Error> {
        let lease = i64::try_from(LEASE.as_secs()).unwrap_or(60);
        let Some(claim) = self.store.claim_appointment(&self.owner, lease).await? else {
            return Ok(None);
        };
        let id = claim.booking_id;
        let Some(row) = self.store.appointment_row(id).await? else {
            // The booking is gone (the row cascades with it): nothing to tell.
            return Ok(Some(Sent::LostLease));
        };
        let body =
            match serde_json::to_vec(&Resource::Appointment(appointment(&self.systems, &row))) {
                Ok(body) => body,
                Err(e) => {
                    tracing::error!(booking = id, error = %e, "cannot serialize an appointment");
                    return Ok(Some(Sent::Failed));
                }
            };
        let token = self.systems.booking_token(id);
        let create = !claim.create_tried && !claim.created;
        let request = if create {
            // Durable before the request leaves: if its answer is lost, whoever sends next
            // knows a create may have arrived, and updates instead.
            if !self.store.appointment_create_tried(id, &self.owner).await? {
                return Ok(Some(Sent::LostLease));
            }
            self.http
                .post(format!("{}/Appointment", self.base))
                .header("If-None-Exist", format!("identifier={token}"))
        } else {
            self.http
                .put(format!("{}/Appointment", self.base))
                .query(&[("identifier", token.as_str())])
        };
        let answer = request
            .header(reqwest::header::CONTENT_TYPE, FHIR_JSON)
            .header(reqwest::header::ACCEPT, FHIR_JSON)
            .body(body)
            .send()
            .await;
        let kind = if create { "create" } else { "update" };
        let mut refusal = false;
        let failure = match answer {
            Ok(r) if r.status().is_success() => None,
            Ok(r) => {
                refusal = refused(r.status().as_u16());
                Some(format!("the SAS answered {}", r.status().as_u16()))
            }
            // Without the URL: it holds our identifier only, but logs need no more than this.
            Err(e) => Some(e.without_url().to_string()),
        };
        // A retry: after a failure, or after a create whose answer was lost.
        if claim.failures > 0 || (claim.create_tried && !claim.created) {
            metrics::counter!("cpts_sas_appointment_retries_total").increment(1);
        }
        let Some(failure) = failure else {
            if !self
                .store
                .appointment_sent(id, &self.owner, claim.version)
                .await?
            {
                tracing::warn!(
                    booking = id,
                    "sent, but another sender had taken the row over"
                );
                return Ok(Some(Sent::LostLease));
            }
            metrics::counter!("cpts_sas_appointments_sent_total", "kind" => kind).increment(1);
            tracing::debug!(
                booking = id,
                kind,
                version = claim.version,
                "appointment sent"
            );
            return Ok(Some(if create { Sent::Created } else { Sent::Updated }));
        };
        metrics::counter!("cpts_sas_appointment_failures_total", "kind" => kind).increment(1);
        let wait = if refusal {
            metrics::counter!("cpts_sas_appointments_refused_total", "kind" => kind).increment(1);
            let wait = i64::try_from(PARKED.as_secs()).unwrap_or(i64::MAX);
            tracing::error!(booking = id, kind, error = %failure, retry_in_s = wait, "the SAS refused an appointment: parked");
            wait
        } else {
            let wait = jittered(self.backoff(claim.failures), rand::random::<f64>());
            tracing::warn!(booking = id, kind, error = %failure, retry_in_s = wait, "appointment not sent");
            wait
        };
        self.store
            .appointment_failed(id, &self.owner, wait, &failure)
            .await?;
        Ok(Some(Sent::Failed))
    }

    /// The wait after the `failures + 1`-th failure in a row, in seconds: `retry × 2^failures`,
    /// at most `retry_max` (before [`jittered`]).
    fn backoff(&self, failures: i64) -> i64 {
        let exp = u32::try_from(failures.clamp(0, 30)).unwrap_or(30);
        let wait = self.retry.as_secs().saturating_mul(1_u64 << exp);
        i64::try_from(wait.min(self.retry_max.as_secs())).unwrap_or(i64::MAX)
    }
}

/// `wait` less up to a fifth of it, by `draw` in `[0, 1)`; a wait of a second or more stays
/// one.
pub fn jittered(wait: i64, draw: f64) -> i64 {
    if wait <= 1 {
        return wait.max(0);
    }
    let cut = (wait as f64 * 0.2 * draw.clamp(0.0, 1.0)) as i64;
    (wait - cut).max(1)
}

#[cfg(test)]
mod retry_tests {
    use super::{jittered, refused};

    #[test]
    fn a_refusal_of_the_resource_is_told_from_a_failure_that_may_pass() {
        for s in [400, 405, 406, 410, 412, 413, 415, 422] {
            assert!(refused(s), "{s}");
        }
        for s in [401, 403, 404, 408, 409, 429, 500, 502, 503, 504] {
            assert!(!refused(s), "{s}");
        }
    }

    #[test]
    fn jitter_takes_off_at_most_a_fifth_and_keeps_a_second() {
        assert_eq!(jittered(300, 0.0), 300);
        assert_eq!(jittered(300, 0.999_999), 241);
        assert!((240..=300).contains(&jittered(300, 0.5)));
        assert_eq!(jittered(1, 0.9), 1);
        assert_eq!(jittered(0, 0.5), 0);
        assert_eq!(jittered(2, 0.999), 2);
    }
}
