-- Undo 0008.create-index-alerts-signal-user-type.

DROP INDEX alerts_signal_id_user_id_type_key;
