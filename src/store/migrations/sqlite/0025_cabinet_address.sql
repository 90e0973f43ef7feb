-- Issue 19: the postal address of a cabinet de garde, which the SAS's FHIR Location requires
-- (line, city, postal code). All three or none; a contact field: editable while slots are
-- published.
ALTER TABLE cabinets ADD COLUMN address_line TEXT;
ALTER TABLE cabinets ADD COLUMN address_city TEXT;
ALTER TABLE cabinets ADD COLUMN address_postcode TEXT
    CHECK (address_postcode IS NULL OR length(address_postcode) = 5);
