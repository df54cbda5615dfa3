-- User-defined automation rules ("if condition then action"); the partial
-- index keeps the scan over all active intents cheap as history grows.
-- depends: 0005.create-alerts

CREATE TABLE intents (
    id           uuid        NOT NULL DEFAULT gen_random_uuid(),
    user_id      uuid        NOT NULL,
    protocol     text,
    -- squawk-ignore prefer-bigint-over-int -- widened to bigint by 0009.widen-chain-id-to-bigint
    chain_id     integer,
    condition    jsonb       NOT NULL,
    action       jsonb       NOT NULL,
    status       text        NOT NULL DEFAULT 'active',
    triggered_at timestamptz,
    executed_at  timestamptz,
    expires_at   timestamptz,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT intents_pkey PRIMARY KEY (id),
    CONSTRAINT intents_user_id_fkey FOREIGN KEY (user_id)
        REFERENCES users (id) ON DELETE CASCADE,
    CONSTRAINT intents_protocol_check CHECK (protocol <> ''),
    CONSTRAINT intents_chain_id_check CHECK (chain_id > 0),
    CONSTRAINT intents_condition_check CHECK (jsonb_typeof(condition) = 'object'),
    CONSTRAINT intents_action_check CHECK (jsonb_typeof(action) = 'object'),
    CONSTRAINT intents_status_check CHECK (
        status IN ('active', 'triggered', 'executed', 'cancelled', 'failed', 'expired')
    ),
    CONSTRAINT intents_triggered_has_triggered_at CHECK (
        status <> 'triggered' OR triggered_at IS NOT NULL
    ),
    CONSTRAINT intents_executed_has_executed_at CHECK (
        status <> 'executed' OR executed_at IS NOT NULL
    )
);

COMMENT ON TABLE intents IS
    'Automation rules: when condition holds for the user''s positions, perform action.';
COMMENT ON COLUMN intents.user_id IS
    'Owning user; intents are deleted together with the user.';
COMMENT ON COLUMN intents.protocol IS
    'Optional scope: protocol identifier as in positions.protocol; NULL = any protocol. Never an empty string.';
COMMENT ON COLUMN intents.chain_id IS
    'Optional scope: EIP-155 chain id; NULL = any chain.';
COMMENT ON COLUMN intents.condition IS
    'JSON object describing when to fire, e.g. {"metric": "healthFactor", "operator": "<", "value": "1.2"}; value is a decimal string.';
COMMENT ON COLUMN intents.action IS
    'JSON object describing what to do, e.g. {"type": "repay", "asset": "USDT", "amount": "1000"}; amount is a decimal string.';
COMMENT ON COLUMN intents.status IS
    '''active'' = waiting for condition; ''triggered'' = condition met, action pending; ''executed'' = action done; ''cancelled'' = withdrawn by the user; ''failed'' = action failed; ''expired'' = expires_at passed without firing.';
COMMENT ON COLUMN intents.triggered_at IS
    'When the condition was met; NULL if it never was.';
COMMENT ON COLUMN intents.executed_at IS
    'When the action completed; NULL if not executed.';
COMMENT ON COLUMN intents.expires_at IS
    'When the intent stops being evaluated; NULL = never expires.';
COMMENT ON COLUMN intents.updated_at IS
    'Time of the last update; maintained by trigger intents_set_updated_at.';

CREATE INDEX intents_user_id_status_idx ON intents (user_id, status);

COMMENT ON INDEX intents_user_id_status_idx IS
    'Serves "intents of a user by status" and the user_id foreign key (ON DELETE CASCADE).';

CREATE INDEX intents_active_created_at_idx ON intents (created_at) WHERE status = 'active';

COMMENT ON INDEX intents_active_created_at_idx IS
    'Partial index over active intents only: serves the evaluator''s scan of all active intents.';

CREATE TRIGGER intents_set_updated_at
    BEFORE UPDATE ON intents
    FOR EACH ROW
    EXECUTE FUNCTION set_updated_at();

COMMENT ON TRIGGER intents_set_updated_at ON intents IS
    'Keeps updated_at current on every UPDATE.';
