-- A user with two notification channels gets one alert per channel for a
-- signal (the schema document's example user has ['telegram', 'in_app']):
-- the unique rule of 0008 becomes (signal, user, type, channel). This index
-- takes over; 0022 drops the old one.
-- depends: 0019.create-index-users-wallet-address-lower
-- transactional: false

-- A build that fails leaves an INVALID index of this name behind: drop it
-- (DROP INDEX CONCURRENTLY) and migrate again. IF NOT EXISTS would instead
-- skip the build and keep the invalid index.
-- squawk-ignore prefer-robust-stmts -- IF NOT EXISTS would keep a failed build's invalid index, see above
CREATE UNIQUE INDEX CONCURRENTLY alerts_signal_id_user_id_type_channel_key
    ON alerts (signal_id, user_id, type, channel)
    WHERE signal_id IS NOT NULL;
