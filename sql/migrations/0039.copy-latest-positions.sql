-- 0039.copy-latest-positions: fills positions_latest (0038) with the newest
-- snapshot of each key already in positions, through positions_latest_refresh
-- (the function the triggers use: one rule, one place). It reads positions
-- while writers go on (no lock but ACCESS SHARE), and the triggers of 0038 have
-- kept every write since that migration committed: a key written since keeps
-- what was written unless the copied snapshot is newer (the triggers' own
-- rule), so the copy neither loses a new snapshot nor brings back an older one.
-- depends: 0038.create-table-positions-latest

SELECT positions_latest_refresh(array_agg(user_id), array_agg(protocol), array_agg(chain_id))
  FROM (SELECT DISTINCT user_id, protocol, chain_id FROM positions) AS every_key;

COMMENT ON TABLE positions_latest IS
    'Read model: the newest snapshot of each (user_id, protocol, chain_id) of positions (newest snapshot_at, then write_seq DESC NULLS LAST, then id DESC), kept by the triggers positions_latest_* on positions in the writing transaction, and filled with the snapshots written before them by 0039. Read by the every-tick queries; never written directly.';
