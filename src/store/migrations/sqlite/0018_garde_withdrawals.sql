-- Issue 18, repair: a coordinator takes a doctor off a published shift (illness, or the doctor's
-- withdrawal he approved). The position leaves published_positions; the doctor's slots of that
-- shift are withdrawn (searches and new bookings skip them) and their active bookings are
-- flagged until a repair plan's publication moves them to the replacement's slot at the same
-- cabinet and time. Each withdrawal is one row here (ids random, as bookings').
ALTER TABLE slots ADD COLUMN withdrawn_at INTEGER;

CREATE TABLE garde_withdrawals (
    id           INTEGER PRIMARY KEY,
    cabinet_id   TEXT NOT NULL REFERENCES cabinets (cabinet_id),
    shift_start  INTEGER NOT NULL,
    shift_end    INTEGER NOT NULL,
    shift_day    TEXT NOT NULL,
    rpps         TEXT NOT NULL,
    plan_id      TEXT NOT NULL REFERENCES garde_plans (id),
    reason       TEXT NOT NULL CHECK (reason IN ('illness', 'withdrawal', 'other')),
    created_at   INTEGER NOT NULL,
    UNIQUE (cabinet_id, shift_start, rpps)
);
CREATE INDEX garde_withdrawals_day ON garde_withdrawals (shift_day);
