-- Issue 18: the médecin's garde wishes, FORMATS.md §3 preferences.csv as a table: at most one
-- per doctor and date (Europe/Paris, ISO text), 'prefer' or 'avoid'. A plan scores them at
-- objective level 3; availability alone stays the hard rule.
CREATE TABLE garde_preferences (
    rpps        TEXT NOT NULL REFERENCES doctors (rpps) ON DELETE CASCADE,
    day         TEXT NOT NULL CHECK (length(day) = 10),
    preference  TEXT NOT NULL CHECK (preference IN ('prefer', 'avoid')),
    updated_at  INTEGER NOT NULL,
    PRIMARY KEY (rpps, day)
);

-- The month the CPTS's garde reference year starts on (1: the calendar year). A plan counts each
-- doctor's published shifts from that month's first day to its period's start as prior shifts
-- (FORMATS.md §3 history.csv), so fairness runs over the year, not one period.
ALTER TABLE cpts ADD COLUMN garde_year_start INTEGER NOT NULL DEFAULT 1
    CHECK (garde_year_start BETWEEN 1 AND 12);
