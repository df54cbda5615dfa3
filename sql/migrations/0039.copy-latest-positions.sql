-- 0039.copy-latest-positions: fills positions_latest (0038) with the newest
-- snapshot of each key already in positions. It reads positions while writers
-- go on (no lock but ACCESS SHARE), and the triggers of 0038 have kept every
-- write since that migration committed: a key they wrote keeps what they wrote
-- unless the copied snapshot is newer (the triggers' own rule), so the copy
-- neither loses a new snapshot nor brings back an older one. A snapshot
-- deleted while this runs may be copied after its deletion was applied; a
-- DBA deleting snapshots by hand during the migration runs
-- SELECT positions_latest_refresh(...) for those keys afterwards.
-- depends: 0038.create-table-positions-latest

INSERT INTO positions_latest AS l
       (user_id, protocol, chain_id, id, wallet_address, health_factor, collateral,
        debt, metadata, snapshot_at, created_at, updated_at, write_seq)
SELECT DISTINCT ON (user_id, protocol, chain_id)
       user_id, protocol, chain_id, id, wallet_address, health_factor, collateral,
       debt, metadata, snapshot_at, created_at, updated_at, write_seq
  FROM positions
 ORDER BY user_id, protocol, chain_id, snapshot_at DESC, write_seq DESC NULLS LAST, id DESC
    ON CONFLICT (user_id, protocol, chain_id) DO UPDATE
   SET id = excluded.id, wallet_address = excluded.wallet_address,
       health_factor = excluded.health_factor, collateral = excluded.collateral,
       debt = excluded.debt, metadata = excluded.metadata,
       snapshot_at = excluded.snapshot_at, created_at = excluded.created_at,
       updated_at = excluded.updated_at, write_seq = excluded.write_seq
 WHERE (excluded.snapshot_at, excluded.write_seq IS NOT NULL,
        coalesce(excluded.write_seq, 0), excluded.id)
     > (l.snapshot_at, l.write_seq IS NOT NULL, coalesce(l.write_seq, 0), l.id);
