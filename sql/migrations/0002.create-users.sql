-- Users are identified by their wallet address; everything else (positions,
-- alerts, intents) hangs off this table.
-- depends: 0001.create-set-updated-at

CREATE TABLE users (
    id               uuid        NOT NULL DEFAULT gen_random_uuid(),
    wallet_address   text        NOT NULL,
    preferences      jsonb       NOT NULL DEFAULT '{}'::jsonb,
    telegram_chat_id text,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT users_pkey PRIMARY KEY (id),
    CONSTRAINT users_wallet_address_key UNIQUE (wallet_address),
    CONSTRAINT users_wallet_address_check CHECK (wallet_address ~ '^0x[0-9a-f]{40}$'),
    CONSTRAINT users_preferences_check CHECK (jsonb_typeof(preferences) = 'object'),
    CONSTRAINT users_telegram_chat_id_check CHECK (telegram_chat_id <> '')
);

COMMENT ON TABLE users IS
    'One row per user, identified by an EVM wallet address.';
COMMENT ON COLUMN users.wallet_address IS
    'EVM address, stored in lower case (0x followed by 40 hex digits). Normalised by trigger users_normalize_wallet_address; unique per user.';
COMMENT ON COLUMN users.preferences IS
    'JSON object with camelCase keys, all optional: riskProfile (''conservative'' | ''moderate'' | ''aggressive''), alertThresholds (object, e.g. {"healthFactor": 1.5}), activeSignals (array of signal types, see signals.type), notificationChannels (array of ''telegram'' | ''email'' | ''in_app''). Empty object = defaults.';
COMMENT ON COLUMN users.telegram_chat_id IS
    'Telegram chat id used for notifications; NULL until the user links Telegram. Never an empty string.';
COMMENT ON COLUMN users.updated_at IS
    'Time of the last update; maintained by trigger users_set_updated_at.';

CREATE TRIGGER users_normalize_wallet_address
    BEFORE INSERT OR UPDATE OF wallet_address ON users
    FOR EACH ROW
    EXECUTE FUNCTION normalize_wallet_address();

COMMENT ON TRIGGER users_normalize_wallet_address ON users IS
    'Lower-cases wallet_address before the CHECK and UNIQUE constraints see it.';

CREATE TRIGGER users_set_updated_at
    BEFORE UPDATE ON users
    FOR EACH ROW
    EXECUTE FUNCTION set_updated_at();

COMMENT ON TRIGGER users_set_updated_at ON users IS
    'Keeps updated_at current on every UPDATE.';
