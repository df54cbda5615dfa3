-- Snapshots of users' lending/borrowing positions per protocol and chain;
-- health_factor drives liquidation-risk alerts, so its domain is enforced here.
-- depends: 0003.create-signals

CREATE TABLE positions (
    id             uuid        NOT NULL DEFAULT gen_random_uuid(),
    user_id        uuid        NOT NULL,
    wallet_address text        NOT NULL,
    protocol       text        NOT NULL,
    -- squawk-ignore prefer-bigint-over-int -- widened to bigint by 0009.widen-chain-id-to-bigint
    chain_id       integer     NOT NULL DEFAULT 1,
    health_factor  numeric,
    collateral     jsonb       NOT NULL DEFAULT '[]'::jsonb,
    debt           jsonb       NOT NULL DEFAULT '[]'::jsonb,
    metadata       jsonb       NOT NULL DEFAULT '{}'::jsonb,
    snapshot_at    timestamptz NOT NULL DEFAULT now(),
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT positions_pkey PRIMARY KEY (id),
    CONSTRAINT positions_user_id_fkey FOREIGN KEY (user_id)
        REFERENCES users (id) ON DELETE CASCADE,
    CONSTRAINT positions_wallet_address_check CHECK (wallet_address ~ '^0x[0-9a-f]{40}$'),
    CONSTRAINT positions_protocol_check CHECK (protocol <> ''),
    CONSTRAINT positions_chain_id_check CHECK (chain_id > 0),
    CONSTRAINT positions_health_factor_check CHECK (
        health_factor >= 0
        AND health_factor <> 'NaN'
        AND health_factor <> 'Infinity'
    ),
    CONSTRAINT positions_collateral_check CHECK (jsonb_typeof(collateral) = 'array'),
    CONSTRAINT positions_debt_check CHECK (jsonb_typeof(debt) = 'array'),
    CONSTRAINT positions_metadata_check CHECK (jsonb_typeof(metadata) = 'object')
);

COMMENT ON TABLE positions IS
    'Point-in-time snapshots of a user''s position in one protocol on one chain.';
COMMENT ON COLUMN positions.user_id IS
    'Owning user; rows are deleted together with the user.';
COMMENT ON COLUMN positions.wallet_address IS
    'EVM address holding the position, lower case (0x + 40 hex digits), normalised by trigger positions_normalize_wallet_address. Not necessarily the owner''s users.wallet_address.';
COMMENT ON COLUMN positions.protocol IS
    'Protocol identifier, e.g. ''aave-v3'' or ''compound-v3''.';
COMMENT ON COLUMN positions.chain_id IS
    'EIP-155 chain id (1 = Ethereum mainnet).';
COMMENT ON COLUMN positions.health_factor IS
    'Protocol health factor (dimensionless; < 1 means liquidatable). NULL means the position has no debt and cannot be liquidated; Infinity and NaN are never stored (numeric NaN sorts above every number, so the CHECK excludes it explicitly).';
COMMENT ON COLUMN positions.collateral IS
    'JSON array of Asset objects, e.g. [{"symbol": "ETH", "amount": "1.5", "valueUSD": "3000"}]; amount and valueUSD are decimal strings to avoid float rounding. Empty array = no collateral.';
COMMENT ON COLUMN positions.debt IS
    'JSON array of Asset objects, same shape as collateral, e.g. [{"symbol": "USDT", "amount": "1000", "valueUSD": "1000"}]. Empty array = no debt.';
COMMENT ON COLUMN positions.metadata IS
    'JSON object with protocol-specific details, e.g. {"ltv": "0.5", "liquidationThreshold": "0.825"}; numbers as decimal strings.';
COMMENT ON COLUMN positions.snapshot_at IS
    'When the on-chain state was read (may be earlier than created_at).';
COMMENT ON COLUMN positions.updated_at IS
    'Time of the last update; maintained by trigger positions_set_updated_at.';
COMMENT ON CONSTRAINT positions_health_factor_check ON positions IS
    'health_factor is NULL or a finite number >= 0; NaN and Infinity are rejected explicitly because ''NaN''::numeric >= 0 is true.';

CREATE INDEX positions_user_id_snapshot_at_idx ON positions (user_id, snapshot_at DESC);

CREATE INDEX positions_wallet_address_protocol_idx ON positions (wallet_address, protocol);

CREATE TRIGGER positions_normalize_wallet_address
    BEFORE INSERT OR UPDATE OF wallet_address ON positions
    FOR EACH ROW
    EXECUTE FUNCTION normalize_wallet_address();

COMMENT ON TRIGGER positions_normalize_wallet_address ON positions IS
    'Lower-cases wallet_address before the CHECK constraint sees it.';

CREATE TRIGGER positions_set_updated_at
    BEFORE UPDATE ON positions
    FOR EACH ROW
    EXECUTE FUNCTION set_updated_at();

COMMENT ON TRIGGER positions_set_updated_at ON positions IS
    'Keeps updated_at current on every UPDATE.';
