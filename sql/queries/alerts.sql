-- Alerts: notifications to a user, delivered by workers over a channel.

-- name: create_alert(user_id, signal_id, type, channel, message, metadata)^
-- Queue an alert for delivery (status pending).
-- returns: Alert
INSERT INTO alerts (user_id, signal_id, type, channel, message, metadata)
VALUES (:user_id, :signal_id, :type, :channel, :message, :metadata)
RETURNING id, user_id, signal_id, type, channel, message, metadata, sent_at,
          acknowledged_at, status, created_at;

-- name: get_alert(alert_id)^
-- One alert by id.
-- returns: Alert
SELECT id, user_id, signal_id, type, channel, message, metadata, sent_at,
       acknowledged_at, status, created_at
  FROM alerts
 WHERE id = :alert_id;

-- name: pending_alerts_for_user(user_id)
-- A user's pending alerts, newest first (alerts_user_id_status_created_at_idx).
-- returns: Alert
SELECT id, user_id, signal_id, type, channel, message, metadata, sent_at,
       acknowledged_at, status, created_at
  FROM alerts
 WHERE user_id = :user_id
   AND status = 'pending'
 ORDER BY created_at DESC;

-- name: fan_out_signal(signal_id)!
-- One pending alert per user whose preferences.activeSignals contain the type
-- of this active signal, on the user's first usable notification channel
-- (in_app when none). Users already alerted about it are skipped, even by a
-- concurrent fan-out (alerts_signal_id_user_id_type_key). One statement.
-- The subscribed users come from users_preferences_active_signals_idx, which
-- serves the predicate only as written: u.preferences -> 'activeSignals' ? s.type.
INSERT INTO alerts (user_id, signal_id, type, channel, message, metadata)
SELECT u.id, s.id, 'signal_detected',
       coalesce((SELECT c.channel
                   FROM jsonb_array_elements_text(
                            CASE WHEN jsonb_typeof(u.preferences -> 'notificationChannels') = 'array'
                                 THEN u.preferences -> 'notificationChannels' END)
                        WITH ORDINALITY AS c (channel, n)
                  WHERE c.channel IN ('telegram', 'email', 'in_app')
                  ORDER BY c.n
                  LIMIT 1), 'in_app'),
       s.type || ' signal on ' || s.asset || ' (' || s.severity || ')',
       jsonb_build_object('severity', s.severity)
  FROM signals AS s
  JOIN users AS u
    ON jsonb_typeof(u.preferences -> 'activeSignals') = 'array'
   AND u.preferences -> 'activeSignals' ? s.type
 WHERE s.id = :signal_id
   AND s.status = 'active'
ON CONFLICT (signal_id, user_id, type) WHERE signal_id IS NOT NULL DO NOTHING;

-- name: claim_pending_alerts(max_rows)
-- Lock up to max_rows pending alerts, oldest first, skipping those another
-- worker has locked: the caller's transaction owns them until it ends.
-- returns: Alert
SELECT id, user_id, signal_id, type, channel, message, metadata, sent_at,
       acknowledged_at, status, created_at
  FROM alerts
 WHERE status = 'pending'
 ORDER BY created_at
 LIMIT :max_rows
   FOR UPDATE SKIP LOCKED;

-- name: mark_alert_sent(alert_id)^
-- A pending (or previously failed) alert was delivered.
-- returns: Alert
UPDATE alerts
   SET status = 'sent', sent_at = now()
 WHERE id = :alert_id
   AND status IN ('pending', 'failed')
RETURNING id, user_id, signal_id, type, channel, message, metadata, sent_at,
          acknowledged_at, status, created_at;

-- name: mark_alert_failed(alert_id, reason)^
-- A pending alert could not be delivered; the reason is kept in metadata.failureReason.
-- returns: Alert
UPDATE alerts
   SET status = 'failed',
       metadata = metadata || jsonb_build_object('failureReason', :reason::text)
 WHERE id = :alert_id
   AND status = 'pending'
RETURNING id, user_id, signal_id, type, channel, message, metadata, sent_at,
          acknowledged_at, status, created_at;

-- name: acknowledge_alert(alert_id)^
-- The user saw a sent alert (acknowledging twice keeps the first time).
-- returns: Alert
UPDATE alerts
   SET status = 'acknowledged', acknowledged_at = coalesce(acknowledged_at, now())
 WHERE id = :alert_id
   AND status IN ('sent', 'acknowledged')
RETURNING id, user_id, signal_id, type, channel, message, metadata, sent_at,
          acknowledged_at, status, created_at;
