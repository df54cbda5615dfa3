-- Undo 0037.comment-indexes-after-query-renames: the comments as they were.

COMMENT ON INDEX intents_active_created_at_id_idx IS
    'Partial index over active intents only, in due_intents'' order (created_at, then id): serves the evaluator''s scan of all active intents.';

COMMENT ON INDEX positions_wallet_address_protocol_snapshot_at_idx IS
    'Serves a wallet''s snapshots on a protocol, newest first (wallet_protocol_positions).';

COMMENT ON INDEX users_preferences_active_signals_idx IS
    'GIN (jsonb_ops) on preferences -> ''activeSignals'': serves fan_out_signal, which finds the users subscribed to a signal type with preferences -> ''activeSignals'' ? type. Only a predicate on this very expression (?, ?|, ?&, @>) can use it.';
