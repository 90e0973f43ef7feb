//! Persistence: all SQL of the crate lives here, one file per aggregate, for SQLite and
//! PostgreSQL alike.
//!
//! # One query text for both databases
//!
//! [`Store`] wraps sqlx's `any` driver, so each query is written once, with `$1` placeholders
//! (which SQLite accepts too). The price is the `any` driver's small type set, hence these
//! conventions, kept by both migration folders:
//!
//! * integers are `INTEGER` in SQLite and `BIGINT` in PostgreSQL, read as `i64` (never `INT4`,
//!   which `any` does not widen);
//! * floats are `REAL` / `DOUBLE PRECISION`, read as `f64`;
//! * instants are Unix seconds in an integer column named `*_at`; dates are ISO `TEXT`;
//! * JSON documents are `TEXT`; booleans are a nullable instant (`published_at`) or `0/1`.
//!
//! SQL that must differ between the two dialects goes in the migrations, not in queries.
//!
//! # Errors
//!
//! Every function returns [`Error`]: a unique violation is [`Error::Conflict`] (the API's 409;
//! "never two bookings for one slot" is a unique index, never a check-then-insert), a database
//! that cannot be reached is [`Error::Unavailable`] (the API's 503).
//!
//! Rows become domain types through the domain's own constructors; a row they refuse is
//! [`Error::Corrupt`]. This room knows `domain` and nothing else of the crate.

mod audit;
mod availability;
mod batches;
mod cabinets;
mod calendar;
mod doctors;
mod fhir;
mod garde_plans;
mod idempotency;
mod jobs;
mod offers;
mod outbox;
mod patients;
mod preferences;
mod proposals;
mod sessions;
mod slots;
mod staging;
mod territories;
mod tokens;
mod withdrawals;

pub use audit::{Actor, AuditEntry, AuditFilter, AuditRecord, append as append_audit_in};
pub use availability::{AvailabilityRecord, PublishedShift, Withdrawal};
pub use batches::{BatchMap, CommuneCount, DoctorPlaces, Page, UnmatchedFilter};
pub use cabinets::{CabinetDeletion, CabinetUpdate};
pub use calendar::{CarenceRow, DoctorShift, TableauRow};
pub use doctors::DoctorRecord;
pub use fhir::{CptsRef, PlaceRow, PublicSlotRow};
pub use garde_plans::{
    CabinetRow, GardeDoctorRow, NewSlot, PlanRecord, PublishOutcome, RosterEntryRow, UnfilledRow,
    WindowRow,
};
pub use idempotency::{IDEMPOTENCY_TTL_SECONDS, Reservation};
pub use jobs::{JobRecord, JobStatus, MAX_ATTEMPTS, NewJob};
pub use offers::{OFFER_EXPIRES_BEFORE_SECONDS, OfferOutcome, OfferRecord, ShiftRef, TakeOutcome};
pub use outbox::{AppointmentRow, ClaimedAppointment, OutboxCounts};
pub use patients::{GardeDoctorImport, ImportCounts, WindowCounts};
pub use preferences::{PreferenceRecord, reference_year_start};
pub use proposals::{
    BatchInstance, CommitOutcome, CommuneReport, PATIENT_STATUSES, PatientStatus, ProposalFilter,
    ProposalRecord, Transition, Viewer, departement_patterns,
};
pub use sessions::{LOGIN_TTL_SECONDS, PendingLogin, SessionRecord};
pub use slots::{
    BoardSlotRow, BookOutcome, BookingRecord, BoundingBox, CancelOutcome, LocatedSlot, SlotRecord,
};
pub use territories::{CptsDeletion, CptsRecord, NewCpts};
pub use tokens::{NewToken, TokenRecord};
pub use withdrawals::{BookingMove, FlaggedBooking, WithdrawOutcome, WithdrawalRecord};

/// The SQL condition "every territory of the scope in `column` is one of `within`'s", with
/// its parameters numbered from `$first`, and the values to bind to them, in order. The
/// column holds a canonical scope (`dep:54,dep:57`); each of `within`'s territories, framed by
/// commas, is replaced by a comma, and the row passes when nothing but a comma is left.
/// REPLACE matches literally, so no name needs escaping. A national `within` passes every
/// row; a row whose scope is `national` passes only then.
pub(crate) fn covered_by(
    column: &str,
    within: &crate::domain::Scope,
    first: usize,
) -> (String, Vec<String>) {
    let names: Vec<String> = within.territories().map(|t| format!(",{t},")).collect();
    if *within == crate::domain::Scope::National {
        return ("1 = 1".to_owned(), Vec::new());
    }
    let mut expr = format!("(',' || {column} || ',')");
    for i in 0..names.len() {
        expr = format!("REPLACE({expr}, ${}, ',')", first + i);
    }
    (format!("{expr} = ','"), names)
}

/// `url` with its database name replaced by `db` (query string kept): tests and load tools
/// create a database of their own beside the one `TEST_DATABASE_URL` names.
pub fn with_database(url: &str, db: &str) -> String {
    let (base, query) = url
        .split_once('?')
        .map_or((url, None), |(b, q)| (b, Some(q)));
    let authority = base.find("://").map_or(0, |i| i + 3);
    let path = base[authority..]
        .find('/')
        .map_or(base.len(), |i| authority + i);
    match query {
        Some(q) => format!("{}/{db}?{q}", &base[..path]),
        None => format!("{}/{db}", &base[..path]),
    }
}

use sqlx::any::AnyPoolOptions;
use sqlx::migrate::Migrator;
use sqlx::{AnyPool, Executor};
use std::time::Duration;

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("src/store/migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("src/store/migrations/postgres");

/// Why a store operation failed, as a caller can act on it.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The row would break a unique constraint (a slot already booked, an id already taken).
    #[error("conflicts with an existing row")]
    Conflict(#[source] sqlx::Error),
    /// The database cannot be reached, or is shutting down, or stayed locked too long.
    #[error("the database is unavailable")]
    Unavailable(#[source] sqlx::Error),
    /// The URL names neither SQLite nor PostgreSQL.
    #[error("unsupported database URL; expected sqlite:… or postgres://…")]
    UnsupportedUrl,
    /// Applying the migrations failed.
    #[error("cannot migrate the database")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// A stored value no longer passes the domain's checks.
    #[error("invalid stored value in {0}")]
    Corrupt(&'static str),
    /// Any other database error: a bug or a broken schema.
    #[error("database error")]
    Other(#[source] sqlx::Error),
}

impl From<sqlx::Error> for Error {
    fn from(e: sqlx::Error) -> Self {
        use sqlx::Error as E;
        match &e {
            E::Database(db) if db.is_unique_violation() => Error::Conflict(e),
            E::Database(db) if db.code().is_some_and(|c| is_unavailable_code(&c)) => {
                Error::Unavailable(e)
            }
            E::Io(_) | E::Tls(_) | E::PoolTimedOut | E::PoolClosed | E::WorkerCrashed => {
                Error::Unavailable(e)
            }
            _ => Error::Other(e),
        }
    }
}

/// PostgreSQL SQLSTATE class 08 (connection exception) and 57P0x (shutting down, cannot
/// connect now); SQLite's BUSY (5) and LOCKED (6), primary codes in the low byte of an
/// extended code, after its busy timeout.
fn is_unavailable_code(code: &str) -> bool {
    if code.starts_with("08") || code.starts_with("57P0") {
        return true;
    }
    code.parse::<u32>().is_ok_and(|c| matches!(c & 0xff, 5 | 6))
}

/// Which database a URL names; decides the migration folder and the connection setup.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    /// The backend of `url`, from its scheme.
    ///
    /// # Errors
    /// [`Error::UnsupportedUrl`] for any other scheme.
    pub fn of_url(url: &str) -> Result<Self, Error> {
        if url.starts_with("sqlite:") {
            Ok(Backend::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Backend::Postgres)
        } else {
            Err(Error::UnsupportedUrl)
        }
    }
}

/// A pool of connections to the service's database. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
    /// Who the writes made through this handle are recorded under ([`Store::acting_as`]).
    actor: Option<std::sync::Arc<Actor>>,
}

impl Store {
    /// Connects to `url` (one connection is opened now, so a bad URL fails here).
    ///
    /// SQLite connections use WAL (readers do not wait for the writer), foreign keys and
    /// sqlx's 5 s busy timeout.
    ///
    /// # Errors
    /// [`Error::UnsupportedUrl`], [`Error::Unavailable`] when the server cannot be reached.
    pub async fn connect(url: &str) -> Result<Self, Error> {
        sqlx::any::install_default_drivers();
        let backend = Backend::of_url(url)?;
        let options = AnyPoolOptions::new().acquire_timeout(Duration::from_secs(5));
        let options = match backend {
            // SQLite has one writer at a time; more connections only queue on its lock.
            Backend::Sqlite => options.max_connections(8).after_connect(|conn, _meta| {
                Box::pin(async move {
                    conn.execute("PRAGMA journal_mode = WAL").await?;
                    conn.execute("PRAGMA synchronous = NORMAL").await?;
                    conn.execute("PRAGMA foreign_keys = ON").await?;
                    // Imports stage their rows in temporary tables (staging.rs): keep them in
                    // memory, not in a temporary file.
                    conn.execute("PRAGMA temp_store = MEMORY").await?;
                    Ok(())
                })
            }),
            Backend::Postgres => options.max_connections(32),
        };
        let pool = options.connect(url).await?;
        Ok(Self {
            pool,
            backend,
            actor: None,
        })
    }

    /// The database behind this store.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Applies the pending migrations of this backend (`src/store/migrations/<backend>/`).
    ///
    /// # Errors
    /// [`Error::Migrate`], e.g. when an applied migration was edited afterwards.
    pub async fn migrate(&self) -> Result<(), Error> {
        match self.backend {
            Backend::Sqlite => {
                // A table rebuild (0004 changes the tokens' CHECK) needs foreign keys off, a
                // pragma SQLite ignores inside a transaction: set it on the connection that
                // migrates, then check every key once the migrations are in.
                let mut conn = self.pool.acquire().await?;
                conn.execute("PRAGMA foreign_keys = OFF").await?;
                let ran = SQLITE_MIGRATIONS.run(&mut *conn).await;
                conn.execute("PRAGMA foreign_keys = ON").await?;
                ran?;
                let broken = sqlx::query("PRAGMA foreign_key_check")
                    .fetch_optional(&mut *conn)
                    .await?;
                if broken.is_some() {
                    return Err(Error::Corrupt("a foreign key after migrating"));
                }
            }
            Backend::Postgres => POSTGRES_MIGRATIONS.run(&self.pool).await?,
        }
        Ok(())
    }

    /// One round trip to the database, for readiness.
    ///
    /// # Errors
    /// [`Error::Unavailable`] when it does not answer.
    pub async fn ping(&self) -> Result<(), Error> {
        self.pool.execute("SELECT 1").await?;
        Ok(())
    }

    /// Closes every connection, waiting for those in use to come back.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

impl Store {
    /// A transaction that writes. On SQLite it starts with `BEGIN IMMEDIATE`: it takes the
    /// write lock at once, waiting for it within the busy timeout, where a deferred one that
    /// reads first would have to upgrade its lock later and be refused at once (SQLITE_BUSY)
    /// whenever another connection wrote in between. PostgreSQL needs nothing of the kind.
    async fn begin_write(&self) -> Result<sqlx::Transaction<'static, sqlx::Any>, Error> {
        Ok(match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await?,
            Backend::Postgres => self.pool.begin().await?,
        })
    }
}

/// Now, in Unix seconds, the unit of every `*_at` column.
/// A random id of 16 digits, below 2^53 (exact in JavaScript's numbers), for rows whose ids
/// reach clients and must not be guessable or tell a count (issue 15: bookings, availability).
/// Always 16 digits: never the 13 or 15 of a NIR, so no log or DLP filter mistakes one for it.
fn random_id() -> i64 {
    use rand::Rng;
    rand::rng().random_range(1_000_000_000_000_000..(1_i64 << 53))
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// `($first, …), (…), …`: the placeholders of a multi-row `VALUES` of `rows` rows of `columns`
/// values, numbered from `first`.
fn values_clause(rows: usize, columns: usize, first: usize) -> String {
    templated_values_clause(rows, &vec!["{}"; columns], first)
}

/// [`values_clause`] where each column's placeholder is put in its template (`{}` stands for
/// `$n`), e.g. [`NULLABLE_FLOAT`].
fn templated_values_clause(rows: usize, templates: &[&str], first: usize) -> String {
    let columns = templates.len();
    let mut out = String::with_capacity(rows * columns * 6);
    for r in 0..rows {
        if r > 0 {
            out.push_str(", ");
        }
        out.push('(');
        for (c, template) in templates.iter().enumerate() {
            if c > 0 {
                out.push_str(", ");
            }
            out.push_str(&template.replace("{}", &format!("${}", first + r * columns + c)));
        }
        out.push(')');
    }
    out
}

/// The template of a nullable float column (a `max_km`) in a multi-row insert: bind
/// [`float_or_absent`] and the database stores NULL for an absent value.
///
/// Why not bind `Option<f64>`: sqlx 0.8's `any` driver sends a NULL `f64` to PostgreSQL as a
/// `float4` parameter; the statement is cached with that type, and the next execution's
/// 8-byte float in the same position is refused (SQLSTATE 22P03). A sentinel keeps the
/// parameter a `float8` every time; limits are > 0, so -1 is never a value.
const NULLABLE_FLOAT: &str = "NULLIF({}, -1.0)";

/// The bound value of a [`NULLABLE_FLOAT`] column.
fn float_or_absent(v: Option<f64>) -> f64 {
    v.unwrap_or(-1.0)
}

#[cfg(test)]
mod tests {
    #[test]
    fn random_ids_have_16_digits_and_fit_javascript_numbers() {
        for _ in 0..1000 {
            let id = super::random_id();
            assert_eq!(id.to_string().len(), 16, "{id}");
            assert!(id < 1 << 53);
        }
    }

    #[test]
    fn the_database_name_of_a_url_is_replaced() {
        assert_eq!(
            super::with_database("postgres://postgres@127.0.0.1:5432/test", "x"),
            "postgres://postgres@127.0.0.1:5432/x"
        );
        assert_eq!(
            super::with_database("postgres://u:p@h/test?sslmode=disable", "x"),
            "postgres://u:p@h/x?sslmode=disable"
        );
        assert_eq!(super::with_database("postgres://h", "x"), "postgres://h/x");
    }

    use super::*;
    use sqlx::Row;

    async fn sqlite_store(dir: &tempfile::TempDir) -> Store {
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("t.db").display());
        let store = Store::connect(&url).await.unwrap();
        store.migrate().await.unwrap();
        store
    }

    #[test]
    fn backends_come_from_the_scheme() {
        assert_eq!(
            Backend::of_url("sqlite://cpts.db?mode=rwc").unwrap(),
            Backend::Sqlite
        );
        assert_eq!(Backend::of_url("sqlite::memory:").unwrap(), Backend::Sqlite);
        assert_eq!(
            Backend::of_url("postgres://u@h/db").unwrap(),
            Backend::Postgres
        );
        assert_eq!(
            Backend::of_url("postgresql://h/db").unwrap(),
            Backend::Postgres
        );
        assert!(matches!(
            Backend::of_url("mysql://h/db"),
            Err(Error::UnsupportedUrl)
        ));
    }

    #[test]
    fn values_clauses_number_their_placeholders_row_by_row() {
        assert_eq!(values_clause(2, 3, 1), "($1, $2, $3), ($4, $5, $6)");
        assert_eq!(values_clause(1, 1, 4), "($4)");
        assert_eq!(
            templated_values_clause(1, &["{}", NULLABLE_FLOAT], 3),
            "($3, NULLIF($4, -1.0))"
        );
    }

    #[test]
    fn unavailable_codes_cover_both_databases() {
        assert!(is_unavailable_code("08006")); // PostgreSQL: connection failure
        assert!(is_unavailable_code("57P01")); // PostgreSQL: admin shutdown
        assert!(is_unavailable_code("5")); // SQLite: SQLITE_BUSY
        assert!(is_unavailable_code("517")); // SQLite: SQLITE_BUSY_SNAPSHOT
        assert!(!is_unavailable_code("23505")); // PostgreSQL: unique violation
        assert!(!is_unavailable_code("2067")); // SQLite: SQLITE_CONSTRAINT_UNIQUE
    }

    #[tokio::test]
    async fn migrating_twice_is_a_no_op() {
        let dir = tempfile::tempdir().unwrap();
        let store = sqlite_store(&dir).await;
        store.migrate().await.unwrap();
        store.ping().await.unwrap();
    }

    #[tokio::test]
    async fn a_slot_holds_one_active_booking_and_a_cancellation_frees_it() {
        // FORMATS.md §4, enforced by the partial unique index of the migrations.
        let dir = tempfile::tempdir().unwrap();
        let store = sqlite_store(&dir).await;
        let p = &store.pool;
        for sql in [
            "INSERT INTO tokens (id, role, label, hash, created_at) \
             VALUES ('t1', 'regulateur', '', 'h', 0)",
            "INSERT INTO cabinets (cabinet_id, name, lat, lon, insee, need, updated_at) \
             VALUES ('c1', 'C', 48.7, 6.2, '54395', 1, 0)",
            "INSERT INTO garde_plans (id, period_start, period_end, created_at) \
             VALUES ('g1', '2026-01-01', '2026-01-31', 0)",
            "INSERT INTO slots (id, plan_id, cabinet_id, rpps, start_at, end_at) \
             VALUES (1, 'g1', 'c1', '10000000009', 100, 1000)",
        ] {
            p.execute(sql).await.unwrap();
        }
        let book = |id: i64| {
            sqlx::query(
                "INSERT INTO bookings (id, slot_id, patient_ref, booked_by, created_at) \
                 VALUES ($1, 1, 'P1', 't1', 0)",
            )
            .bind(id)
            .execute(p)
        };
        book(1).await.unwrap();
        let second = book(2).await.map_err(Error::from);
        assert!(matches!(second, Err(Error::Conflict(_))), "{second:?}");
        p.execute("UPDATE bookings SET cancelled_at = 5 WHERE id = 1")
            .await
            .unwrap();
        book(3).await.unwrap();
        let active: i64 =
            sqlx::query("SELECT COUNT(*) AS n FROM bookings WHERE cancelled_at IS NULL")
                .fetch_one(p)
                .await
                .unwrap()
                .get("n");
        assert_eq!(active, 1);
    }
}
