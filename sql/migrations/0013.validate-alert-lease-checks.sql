-- Validate the CHECKs 0012 added NOT VALID. VALIDATE CONSTRAINT scans alerts
-- under a SHARE UPDATE EXCLUSIVE lock, which lets reads and writes go on; done
-- in the same transaction as 0012 it would have held 0012's ACCESS EXCLUSIVE
-- lock for the whole scan.
-- depends: 0012.add-alert-lease

ALTER TABLE alerts VALIDATE CONSTRAINT alerts_attempts_check;

ALTER TABLE alerts VALIDATE CONSTRAINT alerts_lease_check;
