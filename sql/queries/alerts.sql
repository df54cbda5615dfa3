-- Alerts: notifications to a user, delivered by workers over a channel.

-- name: create_alert(user_id, signal_id, type, channel, message, metadata)^
-- Queue an alert for delivery (status pending).
-- returns: Alert
INSERT INTO alerts (user_id, signal_id, type, channel, message, metadata)
VALUES (:user_id, :signal_id, :type, :channel, :message, :metadata)
RETURNING id, user_id, signal_id, type, channel, message, metadata, sent_at,
          acknowledged_at, status, created_at, attempts, claimed_until, claim_token,
          idempotency_key;

-- name: get_alert(alert_id)^
-- One alert by id.
-- returns: Alert
SELECT id, user_id, signal_id, type, channel, message, metadata, sent_at,
       acknowledged_at, status, created_at, attempts, claimed_until, claim_token,
       idempotency_key
  FROM alerts
 WHERE id = :alert_id;

-- name: pending_alerts_for_user(user_id)
-- A user's pending alerts, newest first (alerts_user_id_status_created_at_idx).
-- returns: Alert
SELECT id, user_id, signal_id, type, channel, message, metadata, sent_at,
       acknowledged_at, status, created_at, attempts, claimed_until, claim_token,
       idempotency_key
  FROM alerts
 WHERE user_id = :user_id
   AND status = 'pending'
 ORDER BY created_at DESC, id DESC;

-- name: fan_out_signal(signal_id)!
-- Queue the signal for every user whose preferences.activeSignals contain its
-- type, once per notification channel that can reach the user: telegram only
-- with a linked telegram_chat_id, email and in_app always; in_app when the
-- user names no such channel. Skipped: a signal that is not active or whose
-- expires_at has passed (whether or not the expiry job has run), and users
-- already alerted about this signal, of any type, on any channel. A
-- concurrent fan-out adds nothing twice (alerts_signal_id_user_id_type_channel_key).
-- One statement. The subscribed users come from users_preferences_active_signals_idx,
-- which serves the predicate only as written: u.preferences -> 'activeSignals' ? s.type.
INSERT INTO alerts (user_id, signal_id, type, channel, message, metadata)
SELECT u.id, s.id, 'signal_detected', ch.channel,
       s.type || ' signal on ' || s.asset || ' (' || s.severity || ')',
       jsonb_build_object('severity', s.severity)
  FROM signals AS s
  JOIN users AS u
    ON jsonb_typeof(u.preferences -> 'activeSignals') = 'array'
   AND u.preferences -> 'activeSignals' ? s.type
 CROSS JOIN LATERAL unnest(coalesce(
        (SELECT array_agg(DISTINCT c.channel)
           FROM jsonb_array_elements_text(
                    CASE WHEN jsonb_typeof(u.preferences -> 'notificationChannels') = 'array'
                         THEN u.preferences -> 'notificationChannels' END) AS c (channel)
          WHERE c.channel IN ('email', 'in_app')
             OR (c.channel = 'telegram' AND u.telegram_chat_id IS NOT NULL)),
        ARRAY['in_app'])) AS ch (channel)
 WHERE s.id = :signal_id
   AND s.status = 'active'
   AND (s.expires_at IS NULL OR s.expires_at > now())
   AND NOT EXISTS (SELECT 1 FROM alerts AS a WHERE a.signal_id = s.id AND a.user_id = u.id)
ON CONFLICT (signal_id, user_id, type, channel) WHERE signal_id IS NOT NULL DO NOTHING;

-- name: claim_pending_alerts(max_rows, lease)
-- Lease up to max_rows pending alerts, oldest first, whose last lease (if any)
-- has ended, skipping rows another claim is taking right now: each gets a new
-- claim_token, a lease until now + lease, one more attempt, and an
-- idempotency_key if it had none. The lease is the claim: it outlives this
-- statement's transaction, and a worker that dies leaves it to expire.
-- returns: Alert
WITH due AS (
    SELECT id
      FROM alerts
     WHERE status = 'pending'
       AND (claimed_until IS NULL OR claimed_until <= statement_timestamp())
     ORDER BY created_at, id
     LIMIT :max_rows
       FOR UPDATE SKIP LOCKED
), leased AS (
    UPDATE alerts AS a
       SET claimed_until = statement_timestamp() + :lease::interval,
           claim_token = gen_random_uuid(),
           attempts = a.attempts + 1,
           idempotency_key = coalesce(a.idempotency_key, gen_random_uuid())
      FROM due
     WHERE a.id = due.id
    RETURNING a.id, a.user_id, a.signal_id, a.type, a.channel, a.message, a.metadata,
              a.sent_at, a.acknowledged_at, a.status, a.created_at, a.attempts,
              a.claimed_until, a.claim_token, a.idempotency_key
)
SELECT id, user_id, signal_id, type, channel, message, metadata, sent_at,
       acknowledged_at, status, created_at, attempts, claimed_until, claim_token,
       idempotency_key
  FROM leased
 ORDER BY created_at, id;

-- name: mark_alert_sent(alert_id, claim_token)^
-- A pending (or previously failed) alert was delivered, by the holder of its
-- latest lease (claim_token), or, with no token, by anyone while no live lease
-- is held on it. No row: the alert is not in a state to be sent, or the lease
-- belongs to someone else.
-- returns: Alert
UPDATE alerts
   SET status = 'sent', sent_at = now()
 WHERE id = :alert_id
   AND status IN ('pending', 'failed')
   AND (claim_token = :claim_token
        OR (:claim_token::uuid IS NULL
            AND (claimed_until IS NULL OR claimed_until <= statement_timestamp())))
RETURNING id, user_id, signal_id, type, channel, message, metadata, sent_at,
          acknowledged_at, status, created_at, attempts, claimed_until, claim_token,
          idempotency_key;

-- name: mark_alerts_sent(alert_ids, claim_tokens)
-- mark_alert_sent for many alerts in one statement: alert_ids[i] with
-- claim_tokens[i]; returns the alerts it marked (those whose lease was lost, or
-- that were not pending or failed, are left out).
-- returns: Alert
UPDATE alerts AS a
   SET status = 'sent', sent_at = now()
  FROM unnest(:alert_ids::uuid[], :claim_tokens::uuid[]) AS c (alert_id, claim_token)
 WHERE a.id = c.alert_id
   AND a.claim_token = c.claim_token
   AND a.status IN ('pending', 'failed')
RETURNING a.id, a.user_id, a.signal_id, a.type, a.channel, a.message, a.metadata,
          a.sent_at, a.acknowledged_at, a.status, a.created_at, a.attempts,
          a.claimed_until, a.claim_token, a.idempotency_key;

-- name: mark_alert_failed(alert_id, reason, claim_token)^
-- A pending alert could not be delivered; the reason is kept in
-- metadata.failureReason. The same lease rule as mark_alert_sent.
-- returns: Alert
UPDATE alerts
   SET status = 'failed',
       metadata = metadata || jsonb_build_object('failureReason', :reason::text)
 WHERE id = :alert_id
   AND status = 'pending'
   AND (claim_token = :claim_token
        OR (:claim_token::uuid IS NULL
            AND (claimed_until IS NULL OR claimed_until <= statement_timestamp())))
RETURNING id, user_id, signal_id, type, channel, message, metadata, sent_at,
          acknowledged_at, status, created_at, attempts, claimed_until, claim_token,
          idempotency_key;

-- name: acknowledge_alert(alert_id)^
-- The user saw a sent alert (acknowledging twice keeps the first time).
-- returns: Alert
UPDATE alerts
   SET status = 'acknowledged', acknowledged_at = coalesce(acknowledged_at, now())
 WHERE id = :alert_id
   AND status IN ('sent', 'acknowledged')
RETURNING id, user_id, signal_id, type, channel, message, metadata, sent_at,
          acknowledged_at, status, created_at, attempts, claimed_until, claim_token,
          idempotency_key;

-- name: set_aside_unreadable_alerts(alert_ids, reasons)!
-- Take claimed alerts that cannot be read out of the delivery queue: each
-- becomes failed, with its reason (reasons[i] for alert_ids[i]) kept in
-- metadata.failureReason, so that it never comes first in a claim again.
UPDATE alerts AS a
   SET status = 'failed',
       metadata = a.metadata || jsonb_build_object('failureReason', r.reason)
  FROM unnest(:alert_ids::uuid[], :reasons::text[]) AS r (alert_id, reason)
 WHERE a.id = r.alert_id;
