-- Jobs report the stage they are in beside the fraction done (issue 6, jobs).
ALTER TABLE jobs ADD COLUMN stage TEXT NOT NULL DEFAULT '';
