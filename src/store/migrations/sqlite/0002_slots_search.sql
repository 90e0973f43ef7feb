-- Cabinets, availability, slot search and bookings through the API (issue 6). The search
-- reads a cabinet's slots by start (after a bounding box on the cabinets' latitude), and a
-- cancellation records who cancelled, beside who booked.
CREATE INDEX slots_cabinet_start ON slots (cabinet_id, start_at);
CREATE INDEX cabinets_lat ON cabinets (lat, lon);
ALTER TABLE bookings ADD COLUMN cancelled_by TEXT REFERENCES tokens (id);
