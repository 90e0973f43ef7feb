-- Every booking of a slot, cancelled or not, by id: the slot board (api::board) reads each
-- slot's latest booking when it loads, so that late events about older bookings change nothing.
CREATE INDEX bookings_by_slot ON bookings (slot_id, id);
