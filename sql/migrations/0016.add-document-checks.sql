-- The database is the contract between every writer and reader of these
-- tables: the TypeScript app, psql and defi-sql. Each JSON shape the Python
-- structs (defi_sql/models.py) assume becomes a CHECK here, so a row that one
-- of them cannot read can no longer be stored by any of them:
--   * users.preferences: riskProfile and notificationChannels take only the
--     values the schema document names (a new channel is a new migration that
--     widens this CHECK and alerts_channel_check together), activeSignals is
--     a list of strings, alertThresholds an object whose healthFactor is a
--     decimal;
--   * positions.collateral/debt: every entry is {symbol, amount, valueUSD};
--   * intents.condition/action: the keys and values IntentCondition and
--     IntentAction require;
--   * every JSON document: nested at most 32 levels (defi_sql.validate.MAX_DEPTH);
--   * chain ids: at most 2^53 - 1, so that JavaScript reads them exactly with
--     Number() (node-postgres returns bigint as a string).
-- A decimal in a document is a JSON number >= 0 or a string of digits (with an
-- optional fraction and exponent), the two spellings msgspec reads as Decimal.
-- depends: 0015.enable-row-level-security

-- Every CHECK is added NOT VALID: new and updated rows are checked from now on,
-- and no table is scanned under this migration's ACCESS EXCLUSIVE locks.
-- 0017 validates them, in a transaction of its own; rows written before this
-- migration that break a rule make 0017 fail, naming the constraint (the
-- README's "Sharing the database with the TypeScript app" says how to find and
-- repair them).

CREATE FUNCTION is_json_decimal(value jsonb) RETURNS boolean
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN CASE jsonb_typeof(value)
        WHEN 'number' THEN value::numeric >= 0
        WHEN 'string' THEN value #>> '{}' ~ '^[0-9]+(\.[0-9]+)?([eE][+-]?[0-9]{1,3})?$'
        ELSE false
    END;

COMMENT ON FUNCTION is_json_decimal(jsonb) IS
    'True when value is a decimal >= 0 as defi-sql reads it: a JSON number, or a JSON string of digits with an optional fraction and exponent ("1.5", "2E+1"). False for anything else, NULL included.';

-- jsonpath filters over the array instead of a query over its elements: a
-- CHECK runs for every snapshot ingested, and this is about 3x faster per row
-- (measured on 200,000 two-asset arrays). They select every element that is
-- NOT an asset: the strict one any element that is not an object (lax mode
-- would look inside a nested array, and find nothing in an empty one), the
-- lax one any object missing a key or holding a wrong value (lax mode, so that
-- a missing key is an empty match rather than an error). The regex is
-- is_json_decimal's.
CREATE FUNCTION is_asset_list(assets jsonb) RETURNS boolean
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN jsonb_typeof(assets) = 'array'
       AND NOT jsonb_path_exists(assets, 'strict $[*] ? (@.type() != "object")')
       AND NOT jsonb_path_exists(assets, '
        lax $[*] ? (@.type() != "object"
                    || !(@.symbol.type() == "string") || @.symbol == ""
                    || !((@.amount.type() == "number" && @.amount >= 0)
                         || (@.amount.type() == "string"
                             && @.amount like_regex "^[0-9]+(\\.[0-9]+)?([eE][+-]?[0-9]{1,3})?$"))
                    || !((@.valueUSD.type() == "number" && @.valueUSD >= 0)
                         || (@.valueUSD.type() == "string"
                             && @.valueUSD like_regex "^[0-9]+(\\.[0-9]+)?([eE][+-]?[0-9]{1,3})?$")))');

COMMENT ON FUNCTION is_asset_list(jsonb) IS
    'True when assets is a JSON array of {"symbol": non-empty string, "amount": decimal, "valueUSD": decimal} objects (other keys allowed), the shape of positions.collateral and positions.debt.';

CREATE FUNCTION is_json_within_depth(document jsonb) RETURNS boolean
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN NOT jsonb_path_exists(document, '$.**{32 to last}');

COMMENT ON FUNCTION is_json_within_depth(jsonb) IS
    'True when no value in document is nested 32 levels or more below it (the document itself is level 0; each object member and array element one more): defi_sql.validate.MAX_DEPTH, and far below what a JSON decoder''s recursion allows.';

ALTER TABLE users
    ADD CONSTRAINT users_preferences_risk_profile_check CHECK (
        (preferences ->> 'riskProfile') IN ('conservative', 'moderate', 'aggressive')
    ) NOT VALID,
    ADD CONSTRAINT users_preferences_notification_channels_check CHECK (
        CASE jsonb_typeof(preferences -> 'notificationChannels')
            WHEN 'array' THEN preferences -> 'notificationChannels' <@ '["telegram", "email", "in_app"]'
            ELSE coalesce(jsonb_typeof(preferences -> 'notificationChannels'), 'null') = 'null'
        END
    ) NOT VALID,
    ADD CONSTRAINT users_preferences_active_signals_check CHECK (
        CASE jsonb_typeof(preferences -> 'activeSignals')
            WHEN 'array' THEN NOT jsonb_path_exists(
                preferences -> 'activeSignals', 'strict $[*] ? (@.type() != "string")')
            ELSE coalesce(jsonb_typeof(preferences -> 'activeSignals'), 'null') = 'null'
        END
    ) NOT VALID,
    ADD CONSTRAINT users_preferences_alert_thresholds_check CHECK (
        CASE jsonb_typeof(preferences -> 'alertThresholds')
            WHEN 'object' THEN
                coalesce(jsonb_typeof(preferences #> '{alertThresholds,healthFactor}'), 'null') = 'null'
                OR is_json_decimal(preferences #> '{alertThresholds,healthFactor}')
            ELSE coalesce(jsonb_typeof(preferences -> 'alertThresholds'), 'null') = 'null'
        END
    ) NOT VALID,
    ADD CONSTRAINT users_preferences_depth_check CHECK (is_json_within_depth(preferences)) NOT VALID;

ALTER TABLE positions
    ADD CONSTRAINT positions_collateral_assets_check CHECK (is_asset_list(collateral)) NOT VALID,
    ADD CONSTRAINT positions_debt_assets_check CHECK (is_asset_list(debt)) NOT VALID,
    ADD CONSTRAINT positions_metadata_depth_check CHECK (is_json_within_depth(metadata)) NOT VALID,
    ADD CONSTRAINT positions_chain_id_safe_integer_check CHECK (chain_id <= 9007199254740991) NOT VALID;

ALTER TABLE intents
    ADD CONSTRAINT intents_condition_shape_check CHECK (
        coalesce(condition ->> 'operator', '') IN ('<', '<=', '>', '>=')
        AND coalesce(condition -> 'metric', '"healthFactor"') = '"healthFactor"'
        AND is_json_decimal(condition -> 'value')
        AND is_json_within_depth(condition)
    ) NOT VALID,
    ADD CONSTRAINT intents_action_shape_check CHECK (
        coalesce(action ->> 'type', '') IN ('repay', 'deposit', 'withdraw', 'notify')
        AND coalesce(jsonb_typeof(action -> 'asset'), 'string') IN ('string', 'null')
        AND (coalesce(jsonb_typeof(action -> 'amount'), 'null') = 'null'
             OR is_json_decimal(action -> 'amount'))
        AND is_json_within_depth(action)
    ) NOT VALID,
    ADD CONSTRAINT intents_chain_id_safe_integer_check CHECK (chain_id <= 9007199254740991) NOT VALID;

ALTER TABLE alerts
    ADD CONSTRAINT alerts_metadata_depth_check CHECK (is_json_within_depth(metadata)) NOT VALID;

ALTER TABLE signals
    ADD CONSTRAINT signals_data_depth_check CHECK (is_json_within_depth(data)) NOT VALID;

ALTER TABLE event_store
    ADD CONSTRAINT event_store_payload_depth_check CHECK (is_json_within_depth(payload)) NOT VALID,
    ADD CONSTRAINT event_store_metadata_depth_check CHECK (is_json_within_depth(metadata)) NOT VALID;

COMMENT ON CONSTRAINT users_preferences_notification_channels_check ON users IS
    'notificationChannels, when set, lists only channels an alert can be delivered on (alerts_channel_check).';
COMMENT ON CONSTRAINT users_preferences_alert_thresholds_check ON users IS
    'alertThresholds, when set, is an object; its healthFactor, when set, is a decimal >= 0. Other threshold keys are the app''s own and are kept.';
COMMENT ON CONSTRAINT positions_chain_id_safe_integer_check ON positions IS
    'At most 2^53 - 1 (Number.MAX_SAFE_INTEGER), so a JavaScript client converts the bigint exactly with Number().';
COMMENT ON CONSTRAINT intents_chain_id_safe_integer_check ON intents IS
    'At most 2^53 - 1 (Number.MAX_SAFE_INTEGER), so a JavaScript client converts the bigint exactly with Number().';
