-- Issue 18: the number a cabinet de garde is reached at (10 digits), for the tableau de garde
-- sent to the Ordre and the ARS. A contact field: editable while slots are published.
ALTER TABLE cabinets ADD COLUMN phone TEXT CHECK (phone IS NULL OR length(phone) = 10);
