-- Issue 18, the bourse aux gardes: a doctor offers one of his published shifts, to anyone
-- eligible or to one named colleague (a direct exchange: both agree); a colleague takes it; the
-- CPTS may require its coordinator's approval (cpts.swap_approval). On completion the position,
-- the slots and their bookings move to the taker in one transaction. An offer expires an hour
-- before its shift (expires_at); one live offer per position (the partial unique index).
CREATE TABLE garde_offers (
    id           INTEGER PRIMARY KEY,
    cabinet_id   TEXT NOT NULL REFERENCES cabinets (cabinet_id),
    shift_start  INTEGER NOT NULL,
    shift_end    INTEGER NOT NULL,
    shift_day    TEXT NOT NULL,
    plan_id      TEXT NOT NULL REFERENCES garde_plans (id),
    from_rpps    TEXT NOT NULL,
    to_rpps      TEXT,
    taker_rpps   TEXT,
    state        TEXT NOT NULL CHECK (state IN ('open', 'taken', 'done', 'cancelled')),
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    decided_at   INTEGER,
    CHECK (to_rpps IS NULL OR to_rpps <> from_rpps)
);
CREATE UNIQUE INDEX garde_offers_one_live ON garde_offers (cabinet_id, shift_start, from_rpps)
    WHERE state IN ('open', 'taken');
CREATE INDEX garde_offers_day ON garde_offers (shift_day);

ALTER TABLE cpts ADD COLUMN swap_approval INTEGER NOT NULL DEFAULT 0
    CHECK (swap_approval IN (0, 1));
