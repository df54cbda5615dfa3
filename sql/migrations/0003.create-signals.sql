-- Market signals detected by the analysers; alerts reference them, and the
-- indexes serve the "latest signals by type / asset / status" queries.
-- depends: 0002.create-users

CREATE TABLE signals (
    id          uuid        NOT NULL DEFAULT gen_random_uuid(),
    type        text        NOT NULL,
    asset       text        NOT NULL,
    severity    text        NOT NULL,
    data        jsonb       NOT NULL DEFAULT '{}'::jsonb,
    detected_at timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz,
    status      text        NOT NULL DEFAULT 'active',
    created_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT signals_pkey PRIMARY KEY (id),
    CONSTRAINT signals_type_check CHECK (type <> ''),
    CONSTRAINT signals_asset_check CHECK (asset <> ''),
    CONSTRAINT signals_severity_check CHECK (severity IN ('low', 'medium', 'high', 'critical')),
    CONSTRAINT signals_data_check CHECK (jsonb_typeof(data) = 'object'),
    CONSTRAINT signals_expires_at_check CHECK (expires_at IS NULL OR expires_at > detected_at),
    CONSTRAINT signals_status_check CHECK (status IN ('active', 'expired', 'acknowledged'))
);

COMMENT ON TABLE signals IS
    'Market signals (e.g. depeg, liquidation risk, rate spike) detected for an asset.';
COMMENT ON COLUMN signals.type IS
    'Signal type identifier as produced by the detector (free text, non-empty); users.preferences.activeSignals refers to these values.';
COMMENT ON COLUMN signals.asset IS
    'Asset symbol the signal is about, e.g. ''ETH'' or ''USDT''.';
COMMENT ON COLUMN signals.severity IS
    'One of ''low'', ''medium'', ''high'', ''critical''.';
COMMENT ON COLUMN signals.data IS
    'JSON object with type-specific details of the signal (shape depends on type).';
COMMENT ON COLUMN signals.detected_at IS
    'When the condition was detected (may be earlier than created_at).';
COMMENT ON COLUMN signals.expires_at IS
    'When the signal stops being relevant; NULL = no expiry. Must be later than detected_at.';
COMMENT ON COLUMN signals.status IS
    '''active'' = current; ''expired'' = past expires_at or superseded; ''acknowledged'' = seen and dismissed.';

CREATE INDEX signals_type_detected_at_idx ON signals (type, detected_at DESC);

CREATE INDEX signals_asset_status_idx ON signals (asset, status);

CREATE INDEX signals_status_detected_at_idx ON signals (status, detected_at DESC);
