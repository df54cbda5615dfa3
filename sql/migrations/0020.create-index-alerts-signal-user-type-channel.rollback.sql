-- Undo 0020.create-index-alerts-signal-user-type-channel.
-- transactional: false

DROP INDEX CONCURRENTLY IF EXISTS alerts_signal_id_user_id_type_channel_key;
