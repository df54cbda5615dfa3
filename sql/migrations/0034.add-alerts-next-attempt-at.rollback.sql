-- Undo 0034.add-alerts-next-attempt-at: failed attempts are no longer spaced
-- out (an alert waiting for its retry is due at once), and the comments say
-- what 0005 and 0012 said.
-- squawk-ignore-file ban-drop-column -- removes exactly what 0034 added

ALTER TABLE alerts DROP COLUMN next_attempt_at;

COMMENT ON COLUMN alerts.status IS
    '''pending'' = queued, not yet delivered; ''sent'' = delivered (sent_at set); ''failed'' = delivery failed; ''acknowledged'' = seen by the user (acknowledged_at set).';
COMMENT ON COLUMN alerts.attempts IS
    'How many times the alert has been claimed for delivery (0 = never).';
COMMENT ON COLUMN alerts.claim_token IS
    'Token of the latest lease, new at each claim: only its holder may mark the alert sent or failed. NULL if never claimed.';
