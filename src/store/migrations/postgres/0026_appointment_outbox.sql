-- Issue 19, INT_R03: the appointment feedback to the SAS, a durable outbox. One row per
-- booking, touched (`version` + 1) in the transaction of each change of the booking (made,
-- cancelled, moved to another slot or doctor). A sender claims a row under a lease, sends the
-- booking's state as it is then (a later change supersedes one not yet sent) and records
-- `sent_version`; a row is due while `sent_version < version`.
--
-- `create_tried_at`: a create (POST) left for the SAS, its answer maybe lost; `create_acked_at`:
-- the SAS acknowledged it. Once tried, only conditional PUTs by our identifier follow, so a
-- lost answer never makes a second appointment.
CREATE TABLE appointment_outbox (
    booking_id       BIGINT PRIMARY KEY REFERENCES bookings (id) ON DELETE CASCADE,
    version          BIGINT NOT NULL,
    sent_version     BIGINT NOT NULL DEFAULT 0,
    changed_at       BIGINT NOT NULL,
    next_at          BIGINT NOT NULL,
    attempts         BIGINT NOT NULL DEFAULT 0,
    failures         BIGINT NOT NULL DEFAULT 0,
    lease_owner      TEXT,
    leased_until     BIGINT,
    create_tried_at  BIGINT,
    create_acked_at  BIGINT,
    sent_at          BIGINT,
    last_error       TEXT
);
CREATE INDEX appointment_outbox_due ON appointment_outbox (next_at) WHERE sent_version < version;
