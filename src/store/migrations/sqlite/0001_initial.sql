-- The whole schema of the service (issue 6). Conventions (store/mod.rs): instants are Unix
-- seconds in INTEGER columns named *_at, dates ISO TEXT, JSON TEXT; the PostgreSQL twin in
-- ../postgres/ has the same tables, columns and constraints.

-- API tokens: only the keyed hash of each token (tokens.rs), never the token.
CREATE TABLE tokens (
    id          TEXT PRIMARY KEY,
    role        TEXT NOT NULL CHECK (role IN ('cpam', 'regulateur', 'medecin', 'coordinateur')),
    rpps        TEXT,
    label       TEXT NOT NULL DEFAULT '',
    hash        TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    revoked_at  INTEGER,
    -- A médecin acts on its own RPPS only, so its token carries one; no other token does.
    CHECK ((role = 'medecin') = (rpps IS NOT NULL))
);

-- Matching input (FORMATS.md §2), upserted by CSV imports.
CREATE TABLE patients (
    patient_id  TEXT PRIMARY KEY,
    lat         REAL NOT NULL,
    lon         REAL NOT NULL,
    insee       TEXT NOT NULL,
    age         INTEGER NOT NULL CHECK (age BETWEEN 0 AND 130),
    ald         INTEGER NOT NULL CHECK (ald IN (0, 1)),
    css         INTEGER NOT NULL CHECK (css IN (0, 1)),
    max_km      REAL CHECK (max_km > 0),
    updated_at  INTEGER NOT NULL
);
CREATE INDEX patients_insee ON patients (insee);

-- GPs: the matching columns of FORMATS.md §2, and the garde ones of §3 (NULL until a garde
-- import or a declaration sets them).
CREATE TABLE doctors (
    rpps                 TEXT PRIMARY KEY,
    name                 TEXT NOT NULL,
    lat                  REAL NOT NULL,
    lon                  REAL NOT NULL,
    insee                TEXT NOT NULL,
    capacity             INTEGER NOT NULL DEFAULT 0 CHECK (capacity >= 0),
    max_km               REAL CHECK (max_km > 0),
    capacity_updated_at  INTEGER,
    max_shifts           INTEGER CHECK (max_shifts >= 0),
    garde_max_km         REAL CHECK (garde_max_km > 0),
    updated_at           INTEGER NOT NULL
);
CREATE INDEX doctors_insee ON doctors (insee);

-- Cabinets de garde (FORMATS.md §3).
CREATE TABLE cabinets (
    cabinet_id    TEXT PRIMARY KEY,
    name          TEXT NOT NULL,
    lat           REAL NOT NULL,
    lon           REAL NOT NULL,
    insee         TEXT NOT NULL,
    need          INTEGER NOT NULL CHECK (need >= 1),
    slot_minutes  INTEGER NOT NULL DEFAULT 15 CHECK (slot_minutes > 0),
    updated_at    INTEGER NOT NULL
);

-- Garde availability windows declared by GPs; a withdrawn one keeps its row.
CREATE TABLE availability (
    id            INTEGER PRIMARY KEY,
    rpps          TEXT NOT NULL REFERENCES doctors (rpps),
    start_at      INTEGER NOT NULL,
    end_at        INTEGER NOT NULL,
    created_at    INTEGER NOT NULL,
    withdrawn_at  INTEGER,
    CHECK (start_at < end_at)
);
CREATE INDEX availability_rpps ON availability (rpps, start_at);

-- Long work (matching batches, garde plans), run by `cpts worker` or inside `serve`.
CREATE TABLE jobs (
    id            TEXT PRIMARY KEY,
    kind          TEXT NOT NULL,
    status        TEXT NOT NULL CHECK (status IN ('queued', 'running', 'succeeded', 'failed')),
    progress      REAL NOT NULL DEFAULT 0 CHECK (progress >= 0 AND progress <= 1),
    params        TEXT NOT NULL,
    result        TEXT,
    error         TEXT,
    created_by    TEXT REFERENCES tokens (id),
    attempts      INTEGER NOT NULL DEFAULT 0,
    created_at    INTEGER NOT NULL,
    started_at    INTEGER,
    heartbeat_at  INTEGER,
    finished_at   INTEGER
);
CREATE INDEX jobs_queue ON jobs (status, created_at);

-- Results of a matching batch (FORMATS.md §2, outputs).
CREATE TABLE batch_assignments (
    job_id      TEXT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    patient_id  TEXT NOT NULL,
    rpps        TEXT NOT NULL,
    distance_m  INTEGER NOT NULL CHECK (distance_m >= 0),
    PRIMARY KEY (job_id, patient_id)
);
CREATE TABLE batch_unmatched (
    job_id      TEXT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    patient_id  TEXT NOT NULL,
    tier        INTEGER NOT NULL CHECK (tier IN (1, 2, 3)),
    reason      TEXT NOT NULL CHECK (reason IN ('no_doctor_in_range', 'capacity_exhausted')),
    detail      TEXT NOT NULL,
    PRIMARY KEY (job_id, patient_id)
);

-- Garde plans and their rosters (FORMATS.md §3); publishing sets published_at and creates
-- the slots.
CREATE TABLE garde_plans (
    id            TEXT PRIMARY KEY,
    job_id        TEXT REFERENCES jobs (id),
    period_start  TEXT NOT NULL,
    period_end    TEXT NOT NULL,
    created_at    INTEGER NOT NULL,
    published_at  INTEGER,
    CHECK (period_start <= period_end)
);
CREATE TABLE roster_entries (
    plan_id      TEXT NOT NULL REFERENCES garde_plans (id) ON DELETE CASCADE,
    cabinet_id   TEXT NOT NULL REFERENCES cabinets (cabinet_id),
    shift_start  INTEGER NOT NULL,
    shift_end    INTEGER NOT NULL,
    rpps         TEXT NOT NULL,
    distance_m   INTEGER NOT NULL CHECK (distance_m >= 0),
    PRIMARY KEY (plan_id, cabinet_id, shift_start, rpps)
);
CREATE INDEX roster_entries_rpps ON roster_entries (rpps, shift_start);
CREATE TABLE unfilled_positions (
    plan_id      TEXT NOT NULL REFERENCES garde_plans (id) ON DELETE CASCADE,
    cabinet_id   TEXT NOT NULL REFERENCES cabinets (cabinet_id),
    shift_start  INTEGER NOT NULL,
    shift_end    INTEGER NOT NULL,
    missing      INTEGER NOT NULL CHECK (missing >= 1),
    reason       TEXT NOT NULL,
    PRIMARY KEY (plan_id, cabinet_id, shift_start)
);

-- Consultation slots (FORMATS.md §4): identified by (cabinet, doctor, start instant).
CREATE TABLE slots (
    id          INTEGER PRIMARY KEY,
    plan_id     TEXT NOT NULL REFERENCES garde_plans (id),
    cabinet_id  TEXT NOT NULL REFERENCES cabinets (cabinet_id),
    rpps        TEXT NOT NULL,
    start_at    INTEGER NOT NULL,
    end_at      INTEGER NOT NULL,
    UNIQUE (cabinet_id, rpps, start_at),
    CHECK (start_at < end_at)
);
CREATE INDEX slots_start ON slots (start_at, cabinet_id);

CREATE TABLE bookings (
    id            INTEGER PRIMARY KEY,
    slot_id       INTEGER NOT NULL REFERENCES slots (id),
    patient_ref   TEXT NOT NULL,
    booked_by     TEXT NOT NULL REFERENCES tokens (id),
    created_at    INTEGER NOT NULL,
    cancelled_at  INTEGER
);
-- A slot holds at most one booking and a cancelled booking frees it (FORMATS.md §4). This
-- index, not a check-then-insert, refuses the second booking; store maps it to Conflict.
CREATE UNIQUE INDEX bookings_one_active_per_slot ON bookings (slot_id) WHERE cancelled_at IS NULL;
