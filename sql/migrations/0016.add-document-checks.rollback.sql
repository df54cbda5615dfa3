-- Undo 0016.add-document-checks: the JSON documents and chain ids are checked
-- only as 0015 left them (their JSON type).
-- squawk-ignore-file ban-drop-constraint, ban-drop-function -- removes exactly what 0016 added

ALTER TABLE event_store
    DROP CONSTRAINT event_store_metadata_depth_check,
    DROP CONSTRAINT event_store_payload_depth_check;

ALTER TABLE signals DROP CONSTRAINT signals_data_depth_check;

ALTER TABLE alerts DROP CONSTRAINT alerts_metadata_depth_check;

ALTER TABLE intents
    DROP CONSTRAINT intents_chain_id_safe_integer_check,
    DROP CONSTRAINT intents_action_shape_check,
    DROP CONSTRAINT intents_condition_shape_check;

ALTER TABLE positions
    DROP CONSTRAINT positions_chain_id_safe_integer_check,
    DROP CONSTRAINT positions_metadata_depth_check,
    DROP CONSTRAINT positions_debt_assets_check,
    DROP CONSTRAINT positions_collateral_assets_check;

ALTER TABLE users
    DROP CONSTRAINT users_preferences_depth_check,
    DROP CONSTRAINT users_preferences_alert_thresholds_check,
    DROP CONSTRAINT users_preferences_active_signals_check,
    DROP CONSTRAINT users_preferences_notification_channels_check,
    DROP CONSTRAINT users_preferences_risk_profile_check;

DROP FUNCTION is_json_within_depth(jsonb);
DROP FUNCTION is_asset_list(jsonb);
DROP FUNCTION is_json_decimal(jsonb);
