-- Validate the CHECKs 0016 added NOT VALID. VALIDATE CONSTRAINT scans each
-- table under a SHARE UPDATE EXCLUSIVE lock, which lets reads and writes go on.
-- A row written before 0016 that breaks a rule fails this migration with the
-- constraint's name, and nothing of it is applied: find such rows with the
-- constraint's own expression, e.g.
--   SELECT id, preferences FROM users
--    WHERE NOT (CASE jsonb_typeof(preferences -> 'notificationChannels') ... END);
-- (`\d+ users` in psql prints each expression), repair or delete them, and run
-- `make migrate` again. Until then 0016's rules already hold for new writes.
-- depends: 0016.add-document-checks

ALTER TABLE users VALIDATE CONSTRAINT users_preferences_risk_profile_check;

ALTER TABLE users VALIDATE CONSTRAINT users_preferences_notification_channels_check;

ALTER TABLE users VALIDATE CONSTRAINT users_preferences_active_signals_check;

ALTER TABLE users VALIDATE CONSTRAINT users_preferences_alert_thresholds_check;

ALTER TABLE users VALIDATE CONSTRAINT users_preferences_depth_check;

ALTER TABLE positions VALIDATE CONSTRAINT positions_collateral_assets_check;

ALTER TABLE positions VALIDATE CONSTRAINT positions_debt_assets_check;

ALTER TABLE positions VALIDATE CONSTRAINT positions_metadata_depth_check;

ALTER TABLE positions VALIDATE CONSTRAINT positions_chain_id_safe_integer_check;

ALTER TABLE intents VALIDATE CONSTRAINT intents_condition_shape_check;

ALTER TABLE intents VALIDATE CONSTRAINT intents_action_shape_check;

ALTER TABLE intents VALIDATE CONSTRAINT intents_chain_id_safe_integer_check;

ALTER TABLE alerts VALIDATE CONSTRAINT alerts_metadata_depth_check;

ALTER TABLE signals VALIDATE CONSTRAINT signals_data_depth_check;

ALTER TABLE event_store VALIDATE CONSTRAINT event_store_payload_depth_check;

ALTER TABLE event_store VALIDATE CONSTRAINT event_store_metadata_depth_check;
