-- Issue 18: each doctor's published shifts as an iCalendar feed at a secret URL. Only the
-- secret's SHA-256 is kept; renewing replaces it (the old URL stops answering), revoking
-- deletes the row.
CREATE TABLE calendar_feeds (
    rpps         TEXT PRIMARY KEY REFERENCES doctors (rpps),
    secret_hash  TEXT NOT NULL UNIQUE,
    created_at   BIGINT NOT NULL
);
