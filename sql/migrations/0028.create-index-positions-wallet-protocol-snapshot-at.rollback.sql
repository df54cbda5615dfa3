-- Undo 0028.create-index-positions-wallet-protocol-snapshot-at.
-- transactional: false

DROP INDEX CONCURRENTLY IF EXISTS positions_wallet_address_protocol_snapshot_at_idx;
