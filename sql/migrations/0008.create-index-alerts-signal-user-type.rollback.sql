-- Undo 0008.create-index-alerts-signal-user-type.

-- squawk-ignore require-concurrent-index-deletion -- like 0008, written while alerts was empty
DROP INDEX alerts_signal_id_user_id_type_key;
