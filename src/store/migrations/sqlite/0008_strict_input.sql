-- Issue 15, strict input: a doctor's standing availability windows are distinct. Identical
-- standing duplicates (accepted before) are withdrawn first, the oldest one stays.
UPDATE availability SET withdrawn_at = created_at
 WHERE withdrawn_at IS NULL
   AND id NOT IN (SELECT MIN(id) FROM availability WHERE withdrawn_at IS NULL
                  GROUP BY rpps, start_at, end_at);
CREATE UNIQUE INDEX availability_standing_once
    ON availability (rpps, start_at, end_at) WHERE withdrawn_at IS NULL;
