-- 0043.validate-positions-snapshot-at-bound: proves the bound of 0042 on
-- every existing snapshot. VALIDATE reads the whole table under a SHARE
-- UPDATE EXCLUSIVE lock, which lets reads and writes go on; in a transaction
-- of its own, so that 0042's brief ACCESS EXCLUSIVE lock is not held for the
-- scan. A snapshot dated at or after the bound (written between 0042's look
-- at the newest one and its constraint) fails it with the row: move or delete
-- that snapshot and migrate again.
-- depends: 0042.add-positions-snapshot-at-bound

ALTER TABLE positions VALIDATE CONSTRAINT positions_snapshot_at_bound;
