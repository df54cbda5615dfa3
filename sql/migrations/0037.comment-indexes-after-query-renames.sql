-- Index comments name the queries they serve; the queries were renamed after
-- the API functions that run them (intents.due -> intents_due,
-- positions.list_for_wallet -> positions_list_for_wallet, alerts.fan_out ->
-- alerts_fan_out), so one grep finds the function, the query and the index.
-- Comments only: nothing is rewritten or revalidated.
-- depends: 0036.coalesce-notify-hints

COMMENT ON INDEX intents_active_created_at_id_idx IS
    'Partial index over active intents only, in intents_due'' order (created_at, then id): serves the evaluator''s scan of all active intents.';

COMMENT ON INDEX positions_wallet_address_protocol_snapshot_at_idx IS
    'Serves a wallet''s snapshots on a protocol, newest first (positions_list_for_wallet).';

COMMENT ON INDEX users_preferences_active_signals_idx IS
    'GIN (jsonb_ops) on preferences -> ''activeSignals'': serves alerts_fan_out, which finds the users subscribed to a signal type with preferences -> ''activeSignals'' ? type. Only a predicate on this very expression (?, ?|, ?&, @>) can use it.';
