-- The comment of 0028's index (a non-transactional migration holds its one
-- statement only).
-- depends: 0028.create-index-positions-wallet-protocol-snapshot-at

COMMENT ON INDEX positions_wallet_address_protocol_snapshot_at_idx IS
    'Serves a wallet''s snapshots on a protocol, newest first (wallet_protocol_positions).';
