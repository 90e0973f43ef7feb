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
    booking_id       INTEGER PRIMARY KEY REFERENCES bookings (id) ON DELETE CASCADE,
    version          INTEGER NOT NULL,
    sent_version     INTEGER NOT NULL DEFAULT 0,
    changed_at       INTEGER NOT NULL,
    next_at          INTEGER NOT NULL,
    attempts         INTEGER NOT NULL DEFAULT 0,
    failures         INTEGER NOT NULL DEFAULT 0,
    lease_owner      TEXT,
    leased_until     INTEGER,
    create_tried_at  INTEGER,
    create_acked_at  INTEGER,
    sent_at          INTEGER,
    last_error       TEXT
);
CREATE INDEX appointment_outbox_due ON appointment_outbox (next_at) WHERE sent_version < version;
