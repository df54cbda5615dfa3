-- 0041.comment-positions-read-model: since 0038 the latest-snapshot reads and
-- the every-tick questions read positions_latest, and history alone reads
-- positions; the comments say which index serves what now.
-- depends: 0040.add-users-alert-threshold

COMMENT ON TABLE positions IS
    'Point-in-time snapshots of a user''s position in one protocol on one chain: the history. The newest of each (user_id, protocol, chain_id) is also in positions_latest (0038), which the latest reads use.';

COMMENT ON INDEX positions_user_id_snapshot_at_idx IS
    'Serves a user''s history newest first or by time range (positions_list_for_user, positions_history), positions_latest_refresh, and the user_id foreign key (ON DELETE CASCADE).';
