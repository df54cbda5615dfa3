-- Undo 0039.copy-latest-positions: positions_latest is emptied, as 0038 left
-- it before the copy. The triggers keep filling it with new writes.

DELETE FROM positions_latest;

COMMENT ON TABLE positions_latest IS
    'Read model: the newest snapshot of each (user_id, protocol, chain_id) of positions (newest snapshot_at, then write_seq DESC NULLS LAST, then id DESC), kept by the triggers positions_latest_* on positions in the writing transaction. Read by the every-tick queries; never written directly.';
