-- Issue 18, direct exchanges in the bourse aux gardes: an offer to one named colleague may ask
-- for one of his published shifts in return. His take is his agreement; on completion both
-- positions, their slots and their bookings change hands in one transaction. The four columns
-- are all set or all NULL, and only on an offer to a named colleague.
ALTER TABLE garde_offers ADD COLUMN swap_cabinet_id TEXT REFERENCES cabinets (cabinet_id);
ALTER TABLE garde_offers ADD COLUMN swap_shift_start BIGINT;
ALTER TABLE garde_offers ADD COLUMN swap_shift_end BIGINT;
ALTER TABLE garde_offers ADD COLUMN swap_shift_day TEXT;
CREATE INDEX garde_offers_swap ON garde_offers (swap_cabinet_id, swap_shift_start)
    WHERE swap_cabinet_id IS NOT NULL;

-- Instants as BIGINT, as everywhere else: 0017–0019 declared some as INTEGER (32 bits), which
-- would overflow in January 2038.
ALTER TABLE garde_preferences ALTER COLUMN updated_at TYPE BIGINT;
ALTER TABLE slots ALTER COLUMN withdrawn_at TYPE BIGINT;
ALTER TABLE garde_withdrawals ALTER COLUMN shift_start TYPE BIGINT,
    ALTER COLUMN shift_end TYPE BIGINT, ALTER COLUMN created_at TYPE BIGINT;
ALTER TABLE garde_offers ALTER COLUMN shift_start TYPE BIGINT,
    ALTER COLUMN shift_end TYPE BIGINT, ALTER COLUMN created_at TYPE BIGINT,
    ALTER COLUMN expires_at TYPE BIGINT, ALTER COLUMN decided_at TYPE BIGINT;
