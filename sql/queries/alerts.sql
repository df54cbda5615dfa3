-- Alerts: notifications to a user, delivered by workers over a channel.
-- role: defi_app, defi_worker

-- name: alerts_create(user_id, signal_id, type, channel, message, metadata)^
-- Queue an alert for delivery (status pending).
-- returns: Alert
INSERT INTO alerts (user_id, signal_id, type, channel, message, metadata)
VALUES (:user_id, :signal_id, :type, :channel, :message, :metadata)
RETURNING id, user_id, signal_id, type, channel, message, metadata, sent_at,
          acknowledged_at, status, created_at, attempts, claimed_until, claim_token,
          idempotency_key, next_attempt_at;

-- name: alerts_get(alert_id)^
-- One alert by id.
-- returns: Alert
-- replica: ok
-- shards: multi, by id alone: every shard until callers pass the user (docs/scale-out.md)
SELECT id, user_id, signal_id, type, channel, message, metadata, sent_at,
       acknowledged_at, status, created_at, attempts, claimed_until, claim_token,
       idempotency_key, next_attempt_at
  FROM alerts
 WHERE id = :alert_id;

-- name: alerts_lock(alert_id)^
-- One alert by id, locked until the transaction ends (FOR UPDATE): a refused
-- mark is retried and explained on this row, which no one else can change
-- in between.
-- returns: Alert
-- shards: multi, by id alone: every shard until callers pass the user (docs/scale-out.md)
SELECT id, user_id, signal_id, type, channel, message, metadata, sent_at,
       acknowledged_at, status, created_at, attempts, claimed_until, claim_token,
       idempotency_key, next_attempt_at
  FROM alerts
 WHERE id = :alert_id
   FOR UPDATE;

-- name: alerts_pending_for_user(user_id)
-- A user's pending alerts, newest first (alerts_user_id_status_created_at_idx).
-- returns: Alert
-- replica: ok
SELECT id, user_id, signal_id, type, channel, message, metadata, sent_at,
       acknowledged_at, status, created_at, attempts, claimed_until, claim_token,
       idempotency_key, next_attempt_at
  FROM alerts
 WHERE user_id = :user_id
   AND status = 'pending'
 ORDER BY created_at DESC, id DESC;

-- name: alerts_fan_out(signal_id)!
-- Queue the signal for every user whose preferences.activeSignals contain its
-- type, once per notification channel that can reach the user: telegram only
-- with a linked telegram_chat_id, email and in_app always; in_app when the
-- user names no such channel. Skipped: a signal that is not active or whose
-- expires_at has passed (whether or not the expiry job has run), and users
-- already alerted about this signal, of any type, on any channel. A
-- concurrent fan-out adds nothing twice (alerts_signal_id_user_id_type_channel_key).
-- One statement. The subscribed users come from users_preferences_active_signals_idx,
-- which serves the predicate only as written: u.preferences -> 'activeSignals' ? s.type.
-- shards: multi, fan-out: one signal to every subscribed user
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

-- name: alerts_claim(max_rows, lease)
-- Lease up to max_rows pending alerts, oldest first, whose last lease (if any)
-- has ended and whose retry (next_attempt_at, if any) is due, skipping rows
-- another claim is taking right now (alerts_status_created_at_idx): each gets
-- a new claim_token, a lease until now + lease, one more attempt, and an
-- idempotency_key if it had none (kept across leases and retries). The lease
-- is the claim: it outlives this statement's transaction, and a worker that
-- dies leaves it to expire.
-- returns: Alert
-- shards: multi, the delivery queue: the oldest due alerts of all users
WITH due AS (
    SELECT id
      FROM alerts
     WHERE status = 'pending'
       AND (claimed_until IS NULL OR claimed_until <= statement_timestamp())
       AND (next_attempt_at IS NULL OR next_attempt_at <= statement_timestamp())
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
              a.claimed_until, a.claim_token, a.idempotency_key, a.next_attempt_at
)
SELECT id, user_id, signal_id, type, channel, message, metadata, sent_at,
       acknowledged_at, status, created_at, attempts, claimed_until, claim_token,
       idempotency_key, next_attempt_at
  FROM leased
 ORDER BY created_at, id;

-- name: alerts_mark_sent(alert_id, claim_token)^
-- A pending (or previously failed) alert was delivered, by the holder of its
-- latest lease (claim_token), or, with no token, by anyone while no live lease
-- is held on it. No row: the alert is not in a state to be sent, or the lease
-- belongs to someone else.
-- returns: Alert
-- shards: multi, by id alone: every shard until callers pass the user (docs/scale-out.md)
UPDATE alerts
   SET status = 'sent', sent_at = now()
 WHERE id = :alert_id
   AND status IN ('pending', 'failed')
   AND (claim_token = :claim_token
        OR (:claim_token::uuid IS NULL
            AND (claimed_until IS NULL OR claimed_until <= statement_timestamp())))
RETURNING id, user_id, signal_id, type, channel, message, metadata, sent_at,
          acknowledged_at, status, created_at, attempts, claimed_until, claim_token,
          idempotency_key, next_attempt_at;

-- name: alerts_mark_sent_many(alert_ids, claim_tokens)
-- alerts_mark_sent for many alerts in one statement: alert_ids[i] with
-- claim_tokens[i]; returns the alerts it marked (those whose lease was lost, or
-- that were not pending or failed, are left out).
-- returns: Alert
-- shards: multi, a delivery worker's batch, alerts of many users
UPDATE alerts AS a
   SET status = 'sent', sent_at = now()
  FROM unnest(:alert_ids::uuid[], :claim_tokens::uuid[]) AS c (alert_id, claim_token)
 WHERE a.id = c.alert_id
   AND a.claim_token = c.claim_token
   AND a.status IN ('pending', 'failed')
RETURNING a.id, a.user_id, a.signal_id, a.type, a.channel, a.message, a.metadata,
          a.sent_at, a.acknowledged_at, a.status, a.created_at, a.attempts,
          a.claimed_until, a.claim_token, a.idempotency_key, a.next_attempt_at;

-- name: alerts_mark_failed(alert_id, reason, claim_token, max_attempts, backoff, max_backoff)^
-- A delivery attempt of a pending alert failed; the reason is kept in
-- metadata.failureReason (the last one wins). The same lease rule as
-- alerts_mark_sent. Before max_attempts attempts (claims; a failure outside any
-- claim counts as one) the alert goes back to the queue: still pending, its
-- lease ended and its token void (claimed_until and claim_token NULL), due at
-- next_attempt_at = now + least(backoff * 2^(attempts - 1), max_backoff),
-- shortened at random by up to half so that alerts failing together do not
-- come back together. At max_attempts it becomes failed, a dead letter: out of
-- the queue for good, its lease ended now, the token kept (so that the holder
-- repeating the call is recognised).
-- shards: multi, by id alone: every shard until callers pass the user (docs/scale-out.md)
-- returns: Alert
UPDATE alerts
   SET status = CASE WHEN greatest(attempts, 1) >= :max_attempts
                     THEN 'failed' ELSE 'pending' END,
       -- in seconds, as a double: 2^(attempts - 1) never overflows an interval
       next_attempt_at = CASE WHEN greatest(attempts, 1) < :max_attempts
                              THEN statement_timestamp() + make_interval(secs => least(
                                       extract(epoch FROM :backoff::interval)::float8
                                           * 2 ^ (greatest(attempts, 1) - 1),
                                       extract(epoch FROM :max_backoff::interval)::float8)
                                   * (1 - random() / 2)) END,
       claimed_until = CASE WHEN greatest(attempts, 1) < :max_attempts THEN NULL
                            WHEN claimed_until > statement_timestamp() THEN statement_timestamp()
                            ELSE claimed_until END,
       claim_token = CASE WHEN greatest(attempts, 1) < :max_attempts THEN NULL
                          ELSE claim_token END,
       metadata = metadata || jsonb_build_object('failureReason', :reason::text)
 WHERE id = :alert_id
   AND status = 'pending'
   AND (claim_token = :claim_token
        OR (:claim_token::uuid IS NULL
            AND (claimed_until IS NULL OR claimed_until <= statement_timestamp())))
RETURNING id, user_id, signal_id, type, channel, message, metadata, sent_at,
          acknowledged_at, status, created_at, attempts, claimed_until, claim_token,
          idempotency_key, next_attempt_at;

-- name: alerts_dead_letters(max_rows)
-- The dead letters, newest first: alerts out of the delivery queue for good
-- (status failed: their last attempt failed, or claim could not read them),
-- each with its last error in metadata.failureReason
-- (alerts_status_created_at_idx).
-- returns: Alert
-- replica: ok
-- shards: multi, the operator's view of every user's dead letters
SELECT id, user_id, signal_id, type, channel, message, metadata, sent_at,
       acknowledged_at, status, created_at, attempts, claimed_until, claim_token,
       idempotency_key, next_attempt_at
  FROM alerts
 WHERE status = 'failed'
 ORDER BY created_at DESC, id DESC
 LIMIT :max_rows;

-- name: alerts_requeue(alert_id)^
-- An operator puts a dead letter back in the queue: pending, due at once, with
-- its attempts counted from 0 again and no lease (a late holder's token is
-- void); the idempotency_key is kept, so a channel that got an earlier attempt
-- drops the repeat, and metadata.failureReason keeps the last error. No row:
-- the alert is not failed. Wakes waiting workers (trigger alerts_notify_requeue).
-- returns: Alert
-- shards: multi, by id alone: every shard until callers pass the user (docs/scale-out.md)
UPDATE alerts
   SET status = 'pending',
       attempts = 0,
       next_attempt_at = NULL,
       claimed_until = NULL,
       claim_token = NULL
 WHERE id = :alert_id
   AND status = 'failed'
RETURNING id, user_id, signal_id, type, channel, message, metadata, sent_at,
          acknowledged_at, status, created_at, attempts, claimed_until, claim_token,
          idempotency_key, next_attempt_at;

-- name: alerts_unsettled()$
-- True while a transaction that queued alerts is still open (0036): it may
-- have left the notification to another one, so a waiting worker claims again
-- soon instead of sleeping. Takes the queueing transactions' advisory lock for
-- an instant only if none holds it: never waits.
-- returns: bool
-- not null: unsettled
SELECT CASE WHEN pg_try_advisory_lock(110386672631812)
            THEN NOT pg_advisory_unlock(110386672631812)
            ELSE true
       END AS unsettled;

-- name: alerts_acknowledge(alert_id)^
-- The user saw a sent alert (acknowledging twice keeps the first time).
-- returns: Alert
-- shards: multi, by id alone: every shard until callers pass the user (docs/scale-out.md)
UPDATE alerts
   SET status = 'acknowledged', acknowledged_at = coalesce(acknowledged_at, now())
 WHERE id = :alert_id
   AND status IN ('sent', 'acknowledged')
RETURNING id, user_id, signal_id, type, channel, message, metadata, sent_at,
          acknowledged_at, status, created_at, attempts, claimed_until, claim_token,
          idempotency_key, next_attempt_at;

-- name: alerts_set_aside_unreadable(alert_ids, reasons)!
-- Take claimed alerts that cannot be read out of the delivery queue: each
-- becomes failed, with its reason (reasons[i] for alert_ids[i]) kept in
-- metadata.failureReason, so that it never comes first in a claim again.
-- shards: multi, a delivery worker's batch, alerts of many users
UPDATE alerts AS a
   SET status = 'failed',
       metadata = a.metadata || jsonb_build_object('failureReason', r.reason)
  FROM unnest(:alert_ids::uuid[], :reasons::text[]) AS r (alert_id, reason)
 WHERE a.id = r.alert_id;
