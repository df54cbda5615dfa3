-- Intents: conditional actions ("if health factor < 1.2, repay 1000 USDT").
-- role: defi_app, defi_worker

-- name: intents_create(user_id, protocol, chain_id, condition, action, expires_at)^
-- Record an active intent.
-- returns: Intent
INSERT INTO intents (user_id, protocol, chain_id, condition, action, expires_at)
VALUES (:user_id, :protocol, :chain_id, :condition, :action, :expires_at)
RETURNING id, user_id, protocol, chain_id, condition, action, status, triggered_at,
          executed_at, expires_at, created_at, updated_at;

-- name: intents_get(intent_id)^
-- One intent by id.
-- returns: Intent
-- replica: ok
-- shards: multi, by id alone: every shard until callers pass the user (docs/scale-out.md)
SELECT id, user_id, protocol, chain_id, condition, action, status, triggered_at,
       executed_at, expires_at, created_at, updated_at
  FROM intents
 WHERE id = :intent_id;

-- name: intents_active_for_user(user_id)
-- A user's active, unexpired intents, oldest first (intents_user_id_status_idx).
-- returns: Intent
-- replica: ok
SELECT id, user_id, protocol, chain_id, condition, action, status, triggered_at,
       executed_at, expires_at, created_at, updated_at
  FROM intents
 WHERE user_id = :user_id
   AND status = 'active'
   AND (expires_at IS NULL OR expires_at > now())
 ORDER BY created_at, id;

-- name: intents_transition(intent_id, from_statuses, to_status)^
-- Move an intent to to_status if its status is one of from_statuses, stamping
-- triggered_at / executed_at on the way in.
-- returns: Intent
-- shards: multi, by id alone: every shard until callers pass the user (docs/scale-out.md)
UPDATE intents
   SET status = :to_status,
       triggered_at = CASE WHEN :to_status = 'triggered' THEN now() ELSE triggered_at END,
       executed_at = CASE WHEN :to_status = 'executed' THEN now() ELSE executed_at END
 WHERE id = :intent_id
   AND status = ANY(:from_statuses)
RETURNING id, user_id, protocol, chain_id, condition, action, status, triggered_at,
          executed_at, expires_at, created_at, updated_at;

-- name: intents_due()
-- Active, unexpired intents whose health-factor condition holds on at least
-- one of the user's latest snapshots, one per (protocol, chain) within the
-- intent's scope (all of the user's positions when the intent names none):
-- the rows of positions_latest (migration 0038), which keeps "latest" by the
-- rule of positions.sql. The condition's value is read by json_decimal, in any
-- notation the database accepts ("20", "2E+1", 1.5). A NULL health factor
-- (no debt, so never liquidatable) counts as infinitely high: "> x" and
-- ">= x" hold on it, "< x" and "<= x" never do. One statement, oldest intent
-- first.
-- Not 'replica: ok': an intent it returns is triggered at once (a repay, a
-- withdrawal), on the newest snapshot the primary has (docs/scale-out.md).
-- shards: multi, the intents tick: every user's due intents
-- returns: Intent
SELECT i.id, i.user_id, i.protocol, i.chain_id, i.condition, i.action, i.status,
       i.triggered_at, i.executed_at, i.expires_at, i.created_at, i.updated_at
  FROM intents AS i
 CROSS JOIN LATERAL (SELECT json_decimal(i.condition -> 'value') AS threshold) AS c
 WHERE i.status = 'active'
   AND (i.expires_at IS NULL OR i.expires_at > now())
   -- (condition.metric is healthFactor or absent: intents_condition_shape_check;
   -- saying it again here made the planner expect 1% of the active intents)
   AND EXISTS (
        SELECT 1
          FROM positions_latest AS p
         CROSS JOIN LATERAL (
                SELECT coalesce(p.health_factor, 'Infinity') AS health_factor
               ) AS latest
         WHERE p.user_id = i.user_id
           AND (i.protocol IS NULL OR p.protocol = i.protocol)
           AND (i.chain_id IS NULL OR p.chain_id = i.chain_id)
           AND CASE i.condition ->> 'operator'
                   WHEN '<'  THEN latest.health_factor <  c.threshold
                   WHEN '<=' THEN latest.health_factor <= c.threshold
                   WHEN '>'  THEN latest.health_factor >  c.threshold
                   WHEN '>=' THEN latest.health_factor >= c.threshold
                   ELSE false
               END
       )
 ORDER BY i.created_at, i.id;
