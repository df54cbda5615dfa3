-- Undo 0012.add-alert-lease: leases and idempotency keys are forgotten, and a
-- pending alert is claimable by whoever comes first again.
-- squawk-ignore-file ban-drop-constraint, ban-drop-column -- removes exactly what 0012 added

ALTER TABLE alerts
    DROP CONSTRAINT alerts_lease_check,
    DROP CONSTRAINT alerts_attempts_check,
    DROP COLUMN idempotency_key,
    DROP COLUMN claim_token,
    DROP COLUMN claimed_until,
    DROP COLUMN attempts;
