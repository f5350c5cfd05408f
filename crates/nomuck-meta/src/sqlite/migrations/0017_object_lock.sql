-- S3 Object Lock: the retention (mode, retain-until date in epoch millis) and
-- legal hold of each object version, and the lock an upload gives the version
-- it becomes. NULL mode: no retention.
ALTER TABLE objects ADD COLUMN lock_mode TEXT;
ALTER TABLE objects ADD COLUMN lock_until INTEGER;
ALTER TABLE objects ADD COLUMN legal_hold INTEGER NOT NULL DEFAULT 0;
ALTER TABLE uploads ADD COLUMN lock_mode TEXT;
ALTER TABLE uploads ADD COLUMN lock_until INTEGER;
ALTER TABLE uploads ADD COLUMN legal_hold INTEGER NOT NULL DEFAULT 0;
