-- Undo 0017.validate-document-checks: the CHECKs go back to NOT VALID, as 0016
-- left them (PostgreSQL cannot un-validate a constraint in place, so each is
-- dropped and added again NOT VALID, without a scan).
-- squawk-ignore-file ban-drop-constraint -- each is added again at once, as 0016 made it

ALTER TABLE users
    DROP CONSTRAINT users_preferences_risk_profile_check,
    ADD CONSTRAINT users_preferences_risk_profile_check CHECK (
        (preferences ->> 'riskProfile') IN ('conservative', 'moderate', 'aggressive')
    ) NOT VALID;

ALTER TABLE users
    DROP CONSTRAINT users_preferences_notification_channels_check,
    ADD CONSTRAINT users_preferences_notification_channels_check CHECK (
        CASE jsonb_typeof(preferences -> 'notificationChannels')
            WHEN 'array' THEN preferences -> 'notificationChannels' <@ '["telegram", "email", "in_app"]'
            ELSE coalesce(jsonb_typeof(preferences -> 'notificationChannels'), 'null') = 'null'
        END
    ) NOT VALID;

COMMENT ON CONSTRAINT users_preferences_notification_channels_check ON users IS
    'notificationChannels, when set, lists only channels an alert can be delivered on (alerts_channel_check).';

ALTER TABLE users
    DROP CONSTRAINT users_preferences_active_signals_check,
    ADD CONSTRAINT users_preferences_active_signals_check CHECK (
        CASE jsonb_typeof(preferences -> 'activeSignals')
            WHEN 'array' THEN NOT jsonb_path_exists(
                preferences -> 'activeSignals', 'strict $[*] ? (@.type() != "string")')
            ELSE coalesce(jsonb_typeof(preferences -> 'activeSignals'), 'null') = 'null'
        END
    ) NOT VALID;

ALTER TABLE users
    DROP CONSTRAINT users_preferences_alert_thresholds_check,
    ADD CONSTRAINT users_preferences_alert_thresholds_check CHECK (
        CASE jsonb_typeof(preferences -> 'alertThresholds')
            WHEN 'object' THEN
                coalesce(jsonb_typeof(preferences #> '{alertThresholds,healthFactor}'), 'null') = 'null'
                OR is_json_decimal(preferences #> '{alertThresholds,healthFactor}')
            ELSE coalesce(jsonb_typeof(preferences -> 'alertThresholds'), 'null') = 'null'
        END
    ) NOT VALID;

COMMENT ON CONSTRAINT users_preferences_alert_thresholds_check ON users IS
    'alertThresholds, when set, is an object; its healthFactor, when set, is a decimal >= 0. Other threshold keys are the app''s own and are kept.';

ALTER TABLE users
    DROP CONSTRAINT users_preferences_depth_check,
    ADD CONSTRAINT users_preferences_depth_check CHECK (is_json_within_depth(preferences)) NOT VALID;

ALTER TABLE positions
    DROP CONSTRAINT positions_collateral_assets_check,
    ADD CONSTRAINT positions_collateral_assets_check CHECK (is_asset_list(collateral)) NOT VALID;

ALTER TABLE positions
    DROP CONSTRAINT positions_debt_assets_check,
    ADD CONSTRAINT positions_debt_assets_check CHECK (is_asset_list(debt)) NOT VALID;

ALTER TABLE positions
    DROP CONSTRAINT positions_metadata_depth_check,
    ADD CONSTRAINT positions_metadata_depth_check CHECK (is_json_within_depth(metadata)) NOT VALID;

ALTER TABLE positions
    DROP CONSTRAINT positions_chain_id_safe_integer_check,
    ADD CONSTRAINT positions_chain_id_safe_integer_check CHECK (chain_id <= 9007199254740991) NOT VALID;

COMMENT ON CONSTRAINT positions_chain_id_safe_integer_check ON positions IS
    'At most 2^53 - 1 (Number.MAX_SAFE_INTEGER), so a JavaScript client converts the bigint exactly with Number().';

ALTER TABLE intents
    DROP CONSTRAINT intents_condition_shape_check,
    ADD CONSTRAINT intents_condition_shape_check CHECK (
        coalesce(condition ->> 'operator', '') IN ('<', '<=', '>', '>=')
        AND coalesce(condition -> 'metric', '"healthFactor"') = '"healthFactor"'
        AND is_json_decimal(condition -> 'value')
        AND is_json_within_depth(condition)
    ) NOT VALID;

ALTER TABLE intents
    DROP CONSTRAINT intents_action_shape_check,
    ADD CONSTRAINT intents_action_shape_check CHECK (
        coalesce(action ->> 'type', '') IN ('repay', 'deposit', 'withdraw', 'notify')
        AND coalesce(jsonb_typeof(action -> 'asset'), 'string') IN ('string', 'null')
        AND (coalesce(jsonb_typeof(action -> 'amount'), 'null') = 'null'
             OR is_json_decimal(action -> 'amount'))
        AND is_json_within_depth(action)
    ) NOT VALID;

ALTER TABLE intents
    DROP CONSTRAINT intents_chain_id_safe_integer_check,
    ADD CONSTRAINT intents_chain_id_safe_integer_check CHECK (chain_id <= 9007199254740991) NOT VALID;

COMMENT ON CONSTRAINT intents_chain_id_safe_integer_check ON intents IS
    'At most 2^53 - 1 (Number.MAX_SAFE_INTEGER), so a JavaScript client converts the bigint exactly with Number().';

ALTER TABLE alerts
    DROP CONSTRAINT alerts_metadata_depth_check,
    ADD CONSTRAINT alerts_metadata_depth_check CHECK (is_json_within_depth(metadata)) NOT VALID;

ALTER TABLE signals
    DROP CONSTRAINT signals_data_depth_check,
    ADD CONSTRAINT signals_data_depth_check CHECK (is_json_within_depth(data)) NOT VALID;

ALTER TABLE event_store
    DROP CONSTRAINT event_store_payload_depth_check,
    ADD CONSTRAINT event_store_payload_depth_check CHECK (is_json_within_depth(payload)) NOT VALID;

ALTER TABLE event_store
    DROP CONSTRAINT event_store_metadata_depth_check,
    ADD CONSTRAINT event_store_metadata_depth_check CHECK (is_json_within_depth(metadata)) NOT VALID;
