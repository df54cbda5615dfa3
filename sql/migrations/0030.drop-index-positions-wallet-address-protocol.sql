-- positions_wallet_address_protocol_snapshot_at_idx (0028) serves everything
-- this one did.
-- depends: 0029.comment-index-positions-wallet-protocol-snapshot-at
-- transactional: false

DROP INDEX CONCURRENTLY IF EXISTS positions_wallet_address_protocol_idx;
