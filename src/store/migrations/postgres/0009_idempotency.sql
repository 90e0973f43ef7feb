-- Issue 15: Idempotency-Key on booking and cancelling. A key is reserved (response NULL) before
-- the request runs, so two concurrent retries never both run; the answer is kept 24 h.
CREATE TABLE idempotency_keys (
    token_id      TEXT NOT NULL,
    key           TEXT NOT NULL,
    request_hash  TEXT NOT NULL,
    status        BIGINT,
    response      TEXT,
    location      TEXT,
    created_at    BIGINT NOT NULL,
    PRIMARY KEY (token_id, key)
);
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);
-- GET /bookings?patient_ref=: a régulateur finds a patient's bookings.
CREATE INDEX bookings_patient ON bookings (patient_ref, created_at);
