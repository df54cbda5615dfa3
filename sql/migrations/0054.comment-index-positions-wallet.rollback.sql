-- Undo 0054.comment-index-positions-wallet: the comment as it was.

COMMENT ON INDEX positions_wallet_address_protocol_snapshot_at_idx IS
    'Serves a wallet''s snapshots on a protocol, newest first (positions_list_for_wallet).';
