-- Issue 17: from batch to médecin traitant. A committed batch's assignments become proposals
-- to the GPs; the next batch reads their state. The PostgreSQL twin has the same tables.

-- The exact instance each batch solved (FORMATS.md §2: patients.csv, doctors.csv with the
-- places left then, exclusions.csv), so that `GET /batches/{id}/instance` exports it whatever
-- the stored patients and doctors become. Erasing a patient erases its rows here too.
CREATE TABLE batch_patients (
    job_id      TEXT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    patient_id  TEXT NOT NULL,
    lat         REAL NOT NULL,
    lon         REAL NOT NULL,
    insee       TEXT NOT NULL,
    age         INTEGER NOT NULL,
    ald         INTEGER NOT NULL,
    css         INTEGER NOT NULL,
    max_km      REAL,
    PRIMARY KEY (job_id, patient_id)
);
CREATE INDEX batch_patients_patient ON batch_patients (patient_id);
CREATE TABLE batch_doctors (
    job_id    TEXT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    rpps      TEXT NOT NULL,
    name      TEXT NOT NULL,
    lat       REAL NOT NULL,
    lon       REAL NOT NULL,
    insee     TEXT NOT NULL,
    capacity  INTEGER NOT NULL CHECK (capacity >= 0),
    max_km    REAL,
    PRIMARY KEY (job_id, rpps)
);
CREATE TABLE batch_exclusions (
    job_id      TEXT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    patient_id  TEXT NOT NULL,
    rpps        TEXT NOT NULL,
    PRIMARY KEY (job_id, patient_id, rpps)
);

-- A batch committed by CPAM staff: its assignments became proposals, answerable until
-- deadline_at. A batch is committed once (the primary key).
CREATE TABLE batch_commits (
    job_id        TEXT PRIMARY KEY REFERENCES jobs (id) ON DELETE CASCADE,
    deadline_at   INTEGER NOT NULL,
    committed_at  INTEGER NOT NULL
);

CREATE TABLE proposals (
    id           TEXT PRIMARY KEY,
    job_id       TEXT NOT NULL REFERENCES jobs (id),
    patient_id   TEXT NOT NULL,
    rpps         TEXT NOT NULL,
    tier         INTEGER NOT NULL CHECK (tier IN (1, 2, 3)),
    insee        TEXT NOT NULL,
    distance_m   INTEGER NOT NULL CHECK (distance_m >= 0),
    state        TEXT NOT NULL CHECK (state IN
                   ('proposed', 'accepted', 'attached', 'refused', 'expired', 'withdrawn')),
    reason       TEXT CHECK (reason IN ('capacity', 'distance', 'profile', 'other')),
    refused_by   TEXT CHECK (refused_by IN ('doctor', 'patient')),
    deadline_at  INTEGER NOT NULL,
    created_at   INTEGER NOT NULL,
    answered_at  INTEGER,
    attached_at  INTEGER,
    closed_at    INTEGER,
    updated_at   INTEGER NOT NULL,
    CHECK ((state = 'refused') = (reason IS NOT NULL)),
    CHECK ((state = 'refused') = (refused_by IS NOT NULL)),
    CHECK ((state = 'attached') = (attached_at IS NOT NULL))
);
-- One live proposal per patient, enforced here: a patient proposed, accepted or attached is
-- never proposed again, however two commits race.
CREATE UNIQUE INDEX proposals_live_patient ON proposals (patient_id)
    WHERE state IN ('proposed', 'accepted', 'attached');
CREATE INDEX proposals_rpps ON proposals (rpps, state);
CREATE INDEX proposals_job ON proposals (job_id);
CREATE INDEX proposals_due ON proposals (deadline_at) WHERE state = 'proposed';
CREATE INDEX proposals_insee ON proposals (insee, state);

-- A patient withdrawn because it found a doctor elsewhere or left: no later batch takes it,
-- until an import brings it back (the CPAM's list is the source of truth).
ALTER TABLE patients ADD COLUMN left_at INTEGER;
