//! The real service over HTTP: each test starts `Application` on 127.0.0.1:0 against a fresh
//! database, once on SQLite and once on PostgreSQL (`TEST_DATABASE_URL`), with Redis from
//! `TEST_REDIS_URL`. With `CI=true` a missing variable fails the test; locally the PostgreSQL
//! variant says it skips.
#![allow(clippy::unwrap_used)]

mod helpers;

mod audit;
mod authz;
mod availability;
mod batches;
mod board;
mod bookings;
mod browser;
mod cabinets;
mod calendar;
mod connections;
mod doctors;
mod fhir;
mod garde_imports;
mod garde_plans;
mod garde_preferences;
mod garde_repair;
mod garde_swaps;
mod health;
mod holds;
mod import_contention;
mod imports;
mod limits;
mod mtls;
mod oidc;
#[path = "../common/redis.rs"]
mod own_redis;
mod proposals;
mod redis_outage;
mod sas_feedback;
mod scenario;
mod slots;
mod strict_input;
mod tokens;
