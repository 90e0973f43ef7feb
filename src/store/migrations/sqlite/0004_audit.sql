-- Trust (issue 8): the append-only audit trail, the auditeur role, token expiry.
--
-- The tokens table is rebuilt, SQLite's only way to change a CHECK: the role list gains
-- 'auditeur', and expires_at (Unix seconds, NULL: never) is added. Store::migrate runs the
-- SQLite migrations with foreign keys off and checks them afterwards (PRAGMA
-- foreign_key_check), as SQLite's "other kinds of table schema changes" procedure requires:
-- jobs and bookings refer to tokens, and the new table takes the old one's name.
CREATE TABLE tokens_new (
    id          TEXT PRIMARY KEY,
    role        TEXT NOT NULL
                CHECK (role IN ('cpam', 'regulateur', 'medecin', 'coordinateur', 'auditeur')),
    rpps        TEXT,
    label       TEXT NOT NULL DEFAULT '',
    hash        TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    revoked_at  INTEGER,
    expires_at  INTEGER,
    -- A médecin acts on its own RPPS only, so its token carries one; no other token does.
    CHECK ((role = 'medecin') = (rpps IS NOT NULL))
);
INSERT INTO tokens_new (id, role, rpps, label, hash, created_at, revoked_at)
    SELECT id, role, rpps, label, hash, created_at, revoked_at FROM tokens;
DROP TABLE tokens;
ALTER TABLE tokens_new RENAME TO tokens;

-- One row per write, in the write's own transaction (store/audit.rs). token_id and role are
-- NULL for the command line and the job worker. detail is a small JSON object of counts and
-- ids, never personal data. No foreign key: the trail outlives whatever it names.
CREATE TABLE audit (
    id           INTEGER PRIMARY KEY,
    at           INTEGER NOT NULL,
    token_id     TEXT,
    role         TEXT,
    action       TEXT NOT NULL,
    object_kind  TEXT NOT NULL,
    object_id    TEXT,
    detail       TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_at ON audit (at, id);
CREATE INDEX audit_token ON audit (token_id, id);
CREATE INDEX audit_object ON audit (object_kind, object_id, id);

-- Append-only: the application never updates or deletes a row, and the database refuses to.
CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
BEGIN
    SELECT RAISE(ABORT, 'the audit trail is append-only');
END;
CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
BEGIN
    SELECT RAISE(ABORT, 'the audit trail is append-only');
END;
