-- 0054.comment-index-positions-wallet: positions.list_for_wallet reads in two
-- statements now (the last month first, then the older snapshots for what it
-- lacks), so the index's comment names both. Comment only.
-- depends: 0053.set-constraint-exclusion-off

COMMENT ON INDEX positions_wallet_address_protocol_snapshot_at_idx IS
    'Serves a wallet''s snapshots on a protocol, newest first: the last month''s (positions_list_for_wallet_recent), then the older ones (positions_list_for_wallet_before).';
