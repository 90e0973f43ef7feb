//! `/metrics`: the service's counters in the Prometheus text format, through the `metrics`
//! facade and its Prometheus recorder (one per process, installed by the first
//! [`crate::startup::Application`]).
//!
//! | metric | kind | labels |
//! |---|---|---|
//! | `cpts_http_requests_total` | counter | `method`, `route` (the template, never the URI), `status` |
//! | `cpts_http_request_duration_seconds` | histogram | `method`, `route` |
//! | `cpts_job_duration_seconds` | histogram | `kind`, `outcome` (`succeeded`, `failed`, `taken_over`) |
//! | `cpts_board_loads_total` | counter | `outcome` (`ok`, `error`) |
//! | `cpts_board_load_duration_seconds` | histogram | |
//! | `cpts_board_slots` | gauge | |
//! | `cpts_import_merge_seconds` | histogram | `kind` (`patients`, `doctors`): how long an import held the write lock |
//! | `cpts_redis_circuit_open` | gauge | 1 while the circuit to Redis is open, 0 closed (absent without Redis) |
//! | `cpts_event_streams_open` | gauge | |
//! | `cpts_connections_open` | gauge | |
//! | `cpts_connections_refused_total` | counter | connections closed at once by a cap |
//! | `cpts_sas_appointments_sent_total` | counter | `kind` (`create`, `update`): appointments the SAS acknowledged (INT_R03) |
//! | `cpts_sas_appointment_failures_total` | counter | `kind`: sends refused or unanswered, to be retried |
//! | `cpts_sas_appointment_retries_total` | counter | sends after a failure or a lost answer |
//!
//! Nothing here names a patient, a doctor or a token: labels are route templates, methods,
//! statuses and job kinds.

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use std::sync::OnceLock;

/// Request duration buckets, in seconds: 1 ms to 30 s (the request timeout).
const REQUEST_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];
/// Job and board-load buckets, in seconds: 10 ms to 30 min.
const LONG_BUCKETS: &[f64] = &[
    0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 1800.0,
];

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// The process's recorder, installed on first call. `None` if another recorder was installed
/// first (a library user's own): then `/metrics` answers 503.
pub fn handle() -> Option<&'static PrometheusHandle> {
    HANDLE
        .get_or_init(|| {
            let builder = PrometheusBuilder::new()
                .set_buckets_for_metric(
                    Matcher::Full("cpts_http_request_duration_seconds".to_owned()),
                    REQUEST_BUCKETS,
                )
                .and_then(|b| {
                    b.set_buckets_for_metric(
                        Matcher::Full("cpts_import_merge_seconds".to_owned()),
                        REQUEST_BUCKETS,
                    )
                })
                .and_then(|b| {
                    b.set_buckets_for_metric(
                        Matcher::Suffix("_duration_seconds".to_owned()),
                        LONG_BUCKETS,
                    )
                });
            match builder.map(PrometheusBuilder::install_recorder) {
                Ok(Ok(handle)) => {
                    describe();
                    Some(handle)
                }
                Ok(Err(e)) | Err(e) => {
                    tracing::warn!(error = %e, "cannot install the metrics recorder; /metrics is off");
                    None
                }
            }
        })
        .as_ref()
}

fn describe() {
    metrics::describe_counter!(
        "cpts_http_requests_total",
        "HTTP requests answered, by method, route template and status"
    );
    metrics::describe_histogram!(
        "cpts_http_request_duration_seconds",
        metrics::Unit::Seconds,
        "Time to answer a request (to its head), by method and route template"
    );
    metrics::describe_histogram!(
        "cpts_job_duration_seconds",
        metrics::Unit::Seconds,
        "Duration of jobs (batches, garde plans), by kind and outcome"
    );
    metrics::describe_counter!("cpts_board_loads_total", "Slot board loads, by outcome");
    metrics::describe_histogram!(
        "cpts_board_load_duration_seconds",
        metrics::Unit::Seconds,
        "Duration of slot board loads"
    );
    metrics::describe_gauge!("cpts_board_slots", "Slots on the board after its last load");
    metrics::describe_histogram!(
        "cpts_import_merge_seconds",
        metrics::Unit::Seconds,
        "Time an import's merge transaction held the write lock, by kind"
    );
    metrics::describe_gauge!(
        "cpts_redis_circuit_open",
        "1 while the circuit to Redis is open (Redis unreachable), 0 when closed"
    );
    metrics::describe_gauge!("cpts_event_streams_open", "Open /slots/events streams");
    metrics::describe_gauge!("cpts_connections_open", "Open HTTP connections");
    metrics::describe_counter!(
        "cpts_connections_refused_total",
        "Connections closed at once because a connection cap was reached"
    );
    metrics::describe_counter!(
        "cpts_sas_appointments_sent_total",
        "Appointments (INT_R03) the SAS acknowledged, by kind (create, update)"
    );
    metrics::describe_counter!(
        "cpts_sas_appointment_failures_total",
        "Appointment sends the SAS refused or did not answer, by kind; retried with backoff"
    );
    metrics::describe_counter!(
        "cpts_sas_appointment_retries_total",
        "Appointment sends after a failure or a lost answer"
    );
}

/// Records one answered request.
pub fn request(method: &str, route: &str, status: u16, seconds: f64) {
    let labels = [("method", method.to_owned()), ("route", route.to_owned())];
    metrics::counter!(
        "cpts_http_requests_total",
        &[
            ("method", method.to_owned()),
            ("route", route.to_owned()),
            ("status", status.to_string())
        ]
    )
    .increment(1);
    metrics::histogram!("cpts_http_request_duration_seconds", &labels).record(seconds);
}

/// Records one finished job.
pub fn job(kind: &str, outcome: &'static str, seconds: f64) {
    metrics::histogram!(
        "cpts_job_duration_seconds",
        "kind" => kind.to_owned(),
        "outcome" => outcome
    )
    .record(seconds);
}

/// Records one slot board load.
pub fn board_load(ok: bool, seconds: f64, slots: Option<usize>) {
    metrics::counter!("cpts_board_loads_total", "outcome" => if ok { "ok" } else { "error" })
        .increment(1);
    metrics::histogram!("cpts_board_load_duration_seconds").record(seconds);
    if let Some(n) = slots {
        metrics::gauge!("cpts_board_slots").set(n as f64);
    }
}

/// Records one import's merge (its transaction, from begin to commit).
pub fn import_merged(kind: &'static str, took: std::time::Duration) {
    metrics::histogram!("cpts_import_merge_seconds", "kind" => kind).record(took.as_secs_f64());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recorded_values_render_in_the_text_format() {
        let handle = handle().expect("the recorder installs");
        request("GET", "/slots", 200, 0.003);
        job("batch", "succeeded", 1.5);
        board_load(true, 0.02, Some(12));
        let text = handle.render();
        assert!(
            text.contains(r#"cpts_http_requests_total{method="GET",route="/slots",status="200"}"#),
            "{text}"
        );
        assert!(
            text.contains(r#"cpts_http_request_duration_seconds_bucket{method="GET",route="/slots",le="0.005"}"#),
            "{text}"
        );
        assert!(text.contains("cpts_job_duration_seconds_bucket"), "{text}");
        assert!(text.contains("cpts_board_slots 12"), "{text}");
        assert!(
            text.contains("# TYPE cpts_http_requests_total counter"),
            "{text}"
        );
    }
}
