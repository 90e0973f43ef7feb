-- Issue 17: a GP's own declaration (capacity, max_km) is no longer overwritten by a later CPAM
-- import. The import's values are kept beside it, with their date, and apply only where the GP
-- has not declared.
ALTER TABLE doctors ADD COLUMN imported_capacity BIGINT;
ALTER TABLE doctors ADD COLUMN imported_max_km DOUBLE PRECISION;
ALTER TABLE doctors ADD COLUMN imported_at BIGINT;
UPDATE doctors SET imported_capacity = capacity, imported_max_km = max_km, imported_at = updated_at
 WHERE capacity_updated_at IS NULL;
