-- Intents: conditional actions ("if health factor < 1.2, repay 1000 USDT").

-- name: create_intent(user_id, protocol, chain_id, condition, action, expires_at)^
-- Record an active intent.
INSERT INTO intents (user_id, protocol, chain_id, condition, action, expires_at)
VALUES (:user_id, :protocol, :chain_id, :condition, :action, :expires_at)
RETURNING id, user_id, protocol, chain_id, condition, action, status, triggered_at,
          executed_at, expires_at, created_at, updated_at;

-- name: get_intent(intent_id)^
-- One intent by id.
SELECT id, user_id, protocol, chain_id, condition, action, status, triggered_at,
       executed_at, expires_at, created_at, updated_at
  FROM intents
 WHERE id = :intent_id;

-- name: active_intents_for_user(user_id)
-- A user's active intents, oldest first (intents_user_id_status_idx).
SELECT id, user_id, protocol, chain_id, condition, action, status, triggered_at,
       executed_at, expires_at, created_at, updated_at
  FROM intents
 WHERE user_id = :user_id
   AND status = 'active'
 ORDER BY created_at;

-- name: transition_intent(intent_id, from_statuses, to_status)^
-- Move an intent to to_status if its status is one of from_statuses, stamping
-- triggered_at / executed_at on the way in.
UPDATE intents
   SET status = :to_status,
       triggered_at = CASE WHEN :to_status = 'triggered' THEN now() ELSE triggered_at END,
       executed_at = CASE WHEN :to_status = 'executed' THEN now() ELSE executed_at END
 WHERE id = :intent_id
   AND status = ANY(:from_statuses)
RETURNING id, user_id, protocol, chain_id, condition, action, status, triggered_at,
          executed_at, expires_at, created_at, updated_at;

-- name: due_intents()
-- Active, unexpired intents whose health-factor condition holds on the user's
-- latest snapshot within the intent's scope (protocol and chain, when set).
-- One statement (intents_active_created_at_idx, then one probe per intent).
SELECT i.id, i.user_id, i.protocol, i.chain_id, i.condition, i.action, i.status,
       i.triggered_at, i.executed_at, i.expires_at, i.created_at, i.updated_at
  FROM intents AS i
 CROSS JOIN LATERAL (
        SELECT p.health_factor
          FROM positions AS p
         WHERE p.user_id = i.user_id
           AND (i.protocol IS NULL OR p.protocol = i.protocol)
           AND (i.chain_id IS NULL OR p.chain_id = i.chain_id)
         ORDER BY p.snapshot_at DESC
         LIMIT 1
       ) AS latest
 WHERE i.status = 'active'
   AND (i.expires_at IS NULL OR i.expires_at > now())
   AND coalesce(i.condition ->> 'metric', 'healthFactor') = 'healthFactor'
   AND CASE i.condition ->> 'operator'
           WHEN '<'  THEN latest.health_factor <  (i.condition ->> 'value')::numeric
           WHEN '<=' THEN latest.health_factor <= (i.condition ->> 'value')::numeric
           WHEN '>'  THEN latest.health_factor >  (i.condition ->> 'value')::numeric
           WHEN '>=' THEN latest.health_factor >= (i.condition ->> 'value')::numeric
           ELSE false
       END
 ORDER BY i.created_at;
