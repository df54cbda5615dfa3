-- Undo 0040.add-users-alert-threshold: the threshold is read from preferences again.
-- squawk-ignore-file ban-drop-column -- the rollback of an ADD COLUMN drops it

ALTER TABLE users DROP COLUMN alert_threshold;
