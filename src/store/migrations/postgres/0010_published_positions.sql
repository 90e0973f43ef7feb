-- Issue 15, garde publication integrity. Every position of a published roster is one row here,
-- whatever plan published it: at most `need` doctors per shift (the primary key with the CHECK
-- on position), and one shift a day per doctor across plans (the UNIQUE). Two racing publishes
-- cannot both pass: the database refuses the second.
CREATE TABLE published_positions (
    cabinet_id   TEXT NOT NULL REFERENCES cabinets (cabinet_id),
    shift_start  BIGINT NOT NULL,
    position     BIGINT NOT NULL,
    need         BIGINT NOT NULL,
    shift_day    TEXT NOT NULL,
    rpps         TEXT NOT NULL,
    plan_id      TEXT NOT NULL REFERENCES garde_plans (id),
    CHECK (position >= 0 AND position < need),
    PRIMARY KEY (cabinet_id, shift_start, position),
    UNIQUE (rpps, shift_day)
);
CREATE INDEX published_positions_plan ON published_positions (plan_id);
CREATE INDEX published_positions_day ON published_positions (shift_day, cabinet_id);
-- The rosters published before: first published, first placed. Rows that broke the rules
-- (double staffing from overlapping plans) are left out; the garde shifts start 9h or 18h
-- Europe/Paris, on the same date in UTC, so the UTC date is the shift's date.
INSERT INTO published_positions (cabinet_id, shift_start, position, need, shift_day, rpps, plan_id)
SELECT cabinet_id, shift_start, position, need, shift_day, rpps, plan_id FROM (
    SELECT r.cabinet_id, r.shift_start, r.rpps, r.plan_id, c.need,
           to_char(to_timestamp(r.shift_start) AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS shift_day,
           ROW_NUMBER() OVER (PARTITION BY r.cabinet_id, r.shift_start
                              ORDER BY p.published_at, r.plan_id, r.rpps) - 1 AS position,
           ROW_NUMBER() OVER (PARTITION BY r.rpps, to_char(to_timestamp(r.shift_start) AT TIME ZONE 'UTC', 'YYYY-MM-DD')
                              ORDER BY p.published_at, r.plan_id, r.cabinet_id) AS nth_that_day,
           ROW_NUMBER() OVER (PARTITION BY r.cabinet_id, r.shift_start, r.rpps
                              ORDER BY p.published_at, r.plan_id) AS nth_same
    FROM roster_entries r
    JOIN garde_plans p ON p.id = r.plan_id AND p.published_at IS NOT NULL
    JOIN cabinets c ON c.cabinet_id = r.cabinet_id
) AS ranked WHERE position < need AND nth_that_day = 1 AND nth_same = 1;
