-- Undo 0041.comment-positions-read-model: the comments as they were before.

COMMENT ON TABLE positions IS
    'Point-in-time snapshots of a user''s position in one protocol on one chain.';

COMMENT ON INDEX positions_user_id_snapshot_at_idx IS NULL;
