-- Issue 18, direct exchanges in the bourse aux gardes: an offer to one named colleague may ask
-- for one of his published shifts in return. His take is his agreement; on completion both
-- positions, their slots and their bookings change hands in one transaction. The four columns
-- are all set or all NULL, and only on an offer to a named colleague.
ALTER TABLE garde_offers ADD COLUMN swap_cabinet_id TEXT REFERENCES cabinets (cabinet_id);
ALTER TABLE garde_offers ADD COLUMN swap_shift_start INTEGER;
ALTER TABLE garde_offers ADD COLUMN swap_shift_end INTEGER;
ALTER TABLE garde_offers ADD COLUMN swap_shift_day TEXT;
CREATE INDEX garde_offers_swap ON garde_offers (swap_cabinet_id, swap_shift_start)
    WHERE swap_cabinet_id IS NOT NULL;
