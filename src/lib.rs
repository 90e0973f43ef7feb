//! CPTS matching & garde engine: médecin-traitant matching for orphan patients, and cabinet de
//! garde rosters with consultation slots (see README.md and FORMATS.md).

/// HTTP API (axum): state, router, problem+json errors, auth extractors, one file per resource.
pub mod api;
/// Redis: key names under a prefix, the shared connection.
pub mod cache;
/// CLI subcommands: match, verify, check-exact, garde, fixtures, serve, worker, token,
/// territory, cert, purge, migrate.
pub mod cli;
/// The service's clock (shifted in tests): proposal deadlines read it.
pub mod clock;
/// Service configuration from flags and environment; secrets that never print.
pub mod config;
/// Value types that cannot be wrong: RPPS, INSEE, patient ids, tiers.
pub mod domain;
/// Appointment feedback to the SAS (INT_R03): the sender of the durable outbox, over mTLS.
pub mod feedback;
/// FHIR R4 for the SAS: resources, the SAS profiles, Bundle assembly, search parameters.
pub mod fhir;
/// Deterministic instances built from the reference data in fixtures/.
pub mod fixtures;
/// Cabinet de garde rosters (FORMATS.md §3): calendar, exact schedule, reports, slots.
pub mod garde;
/// Coordinates, haversine distance, spatial index.
pub mod geo;
/// Input files → domain types: one CSV engine, its matching and garde readers, one error type.
pub mod import;
/// Long work off the request path: the durable jobs table's worker (batches, garde plans).
pub mod jobs;
/// Médecin-traitant matching: network, exact optimum, oracle, explanations.
pub mod matching;
/// `/metrics`: Prometheus counters and histograms of requests, jobs, the board, Redis, streams.
pub mod metrics;
/// Sign-in of people with OpenID Connect (Pro Santé Connect): the authorization code flow.
pub mod signin;
/// Consultation slots at run time: the slot board, search, booking, typed slot events.
pub mod slots;
/// Generic optimisation: min-cost flow and MILP glue, indices and integer costs only.
pub mod solver;
/// The service's lifecycle: build (bind, migrate), run, drain on SIGTERM.
pub mod startup;
/// Persistence: all SQL, for SQLite and PostgreSQL; migrations.
pub mod store;
/// Durations as logs and reports show them (one rounding, 0.1 ms).
pub mod telemetry;
/// API tokens: minting, keyed hash, verification.
pub mod tokens;
/// The web app: the screens of each role, in French with the DSFR; assets embedded from npm.
pub mod web;
