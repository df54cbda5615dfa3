-- Undo 0021.comment-indexes-wallet-lower-alerts-channel.

COMMENT ON INDEX users_wallet_address_lower_idx IS NULL;

COMMENT ON INDEX alerts_signal_id_user_id_type_channel_key IS NULL;

COMMENT ON INDEX alerts_signal_id_user_id_type_key IS
    'At most one alert of a type per (signal, user): makes fan-outs idempotent under concurrency.';
