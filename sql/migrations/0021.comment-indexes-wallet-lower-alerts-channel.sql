-- Comments for the indexes 0019 and 0020 built CONCURRENTLY (a non-transactional
-- migration holds that one statement only). The comment of the index 0022
-- drops is cleared here, in a transaction, so that undoing 0022 (which builds
-- the index again, CONCURRENTLY and uncommented) and then this migration
-- restores it exactly.
-- depends: 0020.create-index-alerts-signal-user-type-channel

COMMENT ON INDEX users_wallet_address_lower_idx IS
    'Serves wallet_address = ''0xAbC...'' in any letter case: the wallet_address domain''s = compares lower(a) = lower(b).';

COMMENT ON INDEX alerts_signal_id_user_id_type_channel_key IS
    'At most one alert of a type per (signal, user, channel): one alert per notification channel, and fan-outs idempotent under concurrency.';

COMMENT ON INDEX alerts_signal_id_user_id_type_key IS NULL;
