-- 0044.create-index-positions-id-snapshot-at: a partitioned table's unique
-- indexes must contain its partition key, so the partitioned positions of
-- 0045 is unique on (id, snapshot_at). Its first partition, the table of
-- today, needs that index already when it is attached, or the attach would
-- build it under an ACCESS EXCLUSIVE lock: built here CONCURRENTLY. The table
-- keeps its primary key on id.
-- depends: 0043.validate-positions-snapshot-at-bound
-- transactional: false

-- A build that fails leaves an INVALID index of this name behind: drop it
-- (DROP INDEX CONCURRENTLY) and migrate again. IF NOT EXISTS would instead
-- skip the build and keep the invalid index.
-- squawk-ignore prefer-robust-stmts -- IF NOT EXISTS would keep a failed build's invalid index, see above
CREATE UNIQUE INDEX CONCURRENTLY positions_id_snapshot_at_key ON positions (id, snapshot_at);
