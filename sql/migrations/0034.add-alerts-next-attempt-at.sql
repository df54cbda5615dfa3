-- A failed delivery must be tried again, later, and not for ever: a send that
-- fails goes back to the queue with a time before which no claim takes it
-- (next_attempt_at, an exponential backoff chosen by alerts.mark_failed), and
-- the attempt that reaches the caller's limit leaves the alert 'failed' for
-- good: a dead letter, with the last error in metadata.failureReason, where
-- every earlier failure (and claim's set-aside of an unreadable row) already
-- kept it. No new status: 'failed' already means "out of the queue", and the
-- TypeScript app and alerts_status_check know only those four values.
-- depends: 0033.comment-index-event-store-transaction-id-position

-- A new nullable column without a default: no table rewrite, no scan, the
-- ACCESS EXCLUSIVE lock held for an instant. Rows written before it (and by
-- code that does not know it) are due at once, as they were.
ALTER TABLE alerts ADD COLUMN next_attempt_at timestamptz;

COMMENT ON COLUMN alerts.next_attempt_at IS
    'A pending alert whose last delivery attempt failed is not claimed before this time (backoff); NULL = due at once. Not meaningful once the alert is sent or failed.';
COMMENT ON COLUMN alerts.status IS
    '''pending'' = queued, not yet delivered (also between retries); ''sent'' = delivered (sent_at set); ''failed'' = out of the queue for good, a dead letter: its last attempt failed (or it could not be read), the reason in metadata.failureReason; ''acknowledged'' = seen by the user (acknowledged_at set).';
COMMENT ON COLUMN alerts.attempts IS
    'How many times the alert has been claimed for delivery since it was queued or last requeued by an operator (0 = never).';
COMMENT ON COLUMN alerts.claim_token IS
    'Token of the latest lease, new at each claim: only its holder may mark the alert sent or failed. NULL if never claimed, or if a failed attempt or an operator returned it to the queue (the holder''s token is void).';
