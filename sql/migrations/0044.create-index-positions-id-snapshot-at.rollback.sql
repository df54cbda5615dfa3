-- Undo 0044.create-index-positions-id-snapshot-at.
-- transactional: false

DROP INDEX CONCURRENTLY IF EXISTS positions_id_snapshot_at_key;
