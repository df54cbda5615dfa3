-- Undo 0013.validate-alert-lease-checks: the CHECKs go back to NOT VALID, as
-- 0012 left them (PostgreSQL cannot un-validate a constraint in place, so each
-- is dropped and added again NOT VALID, without a scan).
-- squawk-ignore-file ban-drop-constraint -- each is added again at once, as 0012 made it

ALTER TABLE alerts
    DROP CONSTRAINT alerts_attempts_check,
    ADD CONSTRAINT alerts_attempts_check CHECK (attempts >= 0) NOT VALID;

ALTER TABLE alerts
    DROP CONSTRAINT alerts_lease_check,
    ADD CONSTRAINT alerts_lease_check CHECK (
        (claimed_until IS NULL) = (claim_token IS NULL)
        AND (claim_token IS NULL OR idempotency_key IS NOT NULL)
    ) NOT VALID;

COMMENT ON CONSTRAINT alerts_lease_check ON alerts IS
    'A lease has both an end and a token, and a leased alert has an idempotency key.';
