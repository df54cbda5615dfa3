-- Undo 0029.comment-index-positions-wallet-protocol-snapshot-at.

COMMENT ON INDEX positions_wallet_address_protocol_snapshot_at_idx IS NULL;
