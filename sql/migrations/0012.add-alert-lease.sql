-- A worker that claims alerts and dies before marking them must not strand
-- them, and a worker whose claim ran out must not mark what another now owns:
-- a claim becomes a lease (claimed_until, claim_token) that another worker may
-- take over once it expires, and each alert gets an idempotency key, stable
-- across leases, that the sender passes to the channel so a re-delivery after a
-- lost lease is recognised as the same message.
-- depends: 0011.comment-index-users-active-signals

-- New nullable columns and a constant default: no table rewrite. The CHECKs are
-- added NOT VALID (no scan under this ACCESS EXCLUSIVE lock; new rows are
-- checked at once) and validated by 0013, in a transaction of its own.
ALTER TABLE alerts
    -- squawk-ignore prefer-bigint-over-int -- a count of claims of one alert, never near 2^31
    ADD COLUMN attempts        integer     NOT NULL DEFAULT 0,
    ADD COLUMN claimed_until   timestamptz,
    ADD COLUMN claim_token     uuid,
    ADD COLUMN idempotency_key uuid;

ALTER TABLE alerts
    ADD CONSTRAINT alerts_attempts_check CHECK (attempts >= 0) NOT VALID;

ALTER TABLE alerts
    ADD CONSTRAINT alerts_lease_check CHECK (
        (claimed_until IS NULL) = (claim_token IS NULL)
        AND (claim_token IS NULL OR idempotency_key IS NOT NULL)
    ) NOT VALID;

COMMENT ON COLUMN alerts.attempts IS
    'How many times the alert has been claimed for delivery (0 = never).';
COMMENT ON COLUMN alerts.claimed_until IS
    'End of the current or last delivery lease; a pending alert whose lease has ended may be claimed again. NULL if never claimed.';
COMMENT ON COLUMN alerts.claim_token IS
    'Token of the latest lease, new at each claim: only its holder may mark the alert sent or failed. NULL if never claimed.';
COMMENT ON COLUMN alerts.idempotency_key IS
    'Set at the first claim and never changed: the sender passes it to the channel, which drops a second delivery with the same key. NULL if never claimed.';
COMMENT ON CONSTRAINT alerts_lease_check ON alerts IS
    'A lease has both an end and a token, and a leased alert has an idempotency key.';
