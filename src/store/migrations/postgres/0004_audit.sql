-- Trust (issue 8): the append-only audit trail, the auditeur role, token expiry. The SQLite
-- twin rebuilds the tokens table for the same change.
ALTER TABLE tokens DROP CONSTRAINT tokens_role_check;
ALTER TABLE tokens ADD CONSTRAINT tokens_role_check
    CHECK (role IN ('cpam', 'regulateur', 'medecin', 'coordinateur', 'auditeur'));
-- Unix seconds; NULL: never expires.
ALTER TABLE tokens ADD COLUMN expires_at BIGINT;

-- One row per write, in the write's own transaction (store/audit.rs). token_id and role are
-- NULL for the command line and the job worker. detail is a small JSON object of counts and
-- ids, never personal data. No foreign key: the trail outlives whatever it names.
CREATE TABLE audit (
    id           BIGSERIAL PRIMARY KEY,
    at           BIGINT NOT NULL,
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

-- Append-only: the application never updates or deletes a row, and the database refuses to,
-- TRUNCATE included (SQLSTATE 42501, insufficient privilege).
CREATE FUNCTION audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the audit trail is append-only (% refused)', TG_OP
        USING ERRCODE = '42501';
END
$$;
CREATE TRIGGER audit_no_update_delete BEFORE UPDATE OR DELETE ON audit
    FOR EACH ROW EXECUTE FUNCTION audit_append_only();
CREATE TRIGGER audit_no_truncate BEFORE TRUNCATE ON audit
    FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only();
