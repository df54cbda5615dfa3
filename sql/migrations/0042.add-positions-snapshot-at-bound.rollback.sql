-- Undo 0042.add-positions-snapshot-at-bound: snapshots of any date are accepted again.
-- squawk-ignore-file ban-drop-constraint -- the rollback of an ADD CONSTRAINT drops it

ALTER TABLE positions DROP CONSTRAINT positions_snapshot_at_bound;
