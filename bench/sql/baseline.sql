-- The every-tick queries as they were before #11 (sql/queries at commit 2f3da7e),
-- kept verbatim as the risk section's baselines: only each name gains the prefix
-- baseline_. Today's named queries are measured against them, whatever those
-- become, and must return the same rows. Never edit these to follow the queries.

-- name: baseline_positions_latest_per_user()
-- The most recent snapshot of every user who has one (LATERAL over users:
-- one index probe per user, in users_pkey order, so no sort). Measured faster
-- than DISTINCT ON (user_id) and row_number() over positions, which read every
-- snapshot (bench/latency.py).
-- returns: Position
SELECT p.id, p.user_id, p.wallet_address, p.protocol, p.chain_id, p.health_factor,
       p.collateral, p.debt, p.metadata, p.snapshot_at, p.created_at, p.updated_at
  FROM users AS u
 CROSS JOIN LATERAL (
        SELECT id, user_id, wallet_address, protocol, chain_id, health_factor, collateral,
               debt, metadata, snapshot_at, created_at, updated_at
          FROM positions
         WHERE positions.user_id = u.id
         ORDER BY snapshot_at DESC, write_seq DESC NULLS LAST, id DESC
         LIMIT 1
       ) AS p
 ORDER BY u.id;

-- name: baseline_positions_at_risk(default_threshold)
-- Every user's latest snapshot per (protocol, chain) whose health factor is
-- below the user's own preferences.alertThresholds.healthFactor (a JSON number
-- or decimal string, read by json_decimal as users.get reads it), or below
-- default_threshold when that is unset. One statement. A NULL health factor
-- (no debt) is never below anything.
-- returns: PositionAtRisk
-- not null: alert_threshold
SELECT p.id, p.user_id, p.wallet_address, p.protocol, p.chain_id, p.health_factor,
       p.collateral, p.debt, p.metadata, p.snapshot_at, p.created_at, p.updated_at,
       t.alert_threshold
  FROM users AS u
 CROSS JOIN LATERAL (
        SELECT coalesce(json_decimal(u.preferences #> '{alertThresholds,healthFactor}'),
                        :default_threshold::numeric) AS alert_threshold
       ) AS t
 CROSS JOIN LATERAL (
        SELECT DISTINCT ON (protocol, chain_id)
               id, user_id, wallet_address, protocol, chain_id, health_factor, collateral,
               debt, metadata, snapshot_at, created_at, updated_at
          FROM positions
         WHERE positions.user_id = u.id
         ORDER BY protocol, chain_id, snapshot_at DESC, write_seq DESC NULLS LAST, id DESC
       ) AS p
 WHERE p.health_factor < t.alert_threshold
 ORDER BY p.health_factor, p.user_id, p.protocol, p.chain_id;

-- name: baseline_intents_due()
-- Active, unexpired intents whose health-factor condition holds on at least
-- one of the user's latest snapshots, one per (protocol, chain) within the
-- intent's scope (all of the user's positions when the intent names none).
-- "Latest" is the rule of positions.sql: newest snapshot_at, then the last
-- written. The condition's value is read by json_decimal, in any notation the
-- database accepts ("20", "2E+1", 1.5). A NULL health factor (no debt, so
-- never liquidatable) counts as infinitely high: "> x" and ">= x" hold on it,
-- "< x" and "<= x" never do. One statement, oldest intent first.
-- returns: Intent
SELECT i.id, i.user_id, i.protocol, i.chain_id, i.condition, i.action, i.status,
       i.triggered_at, i.executed_at, i.expires_at, i.created_at, i.updated_at
  FROM intents AS i
 CROSS JOIN LATERAL (SELECT json_decimal(i.condition -> 'value') AS threshold) AS c
 WHERE i.status = 'active'
   AND (i.expires_at IS NULL OR i.expires_at > now())
   AND coalesce(i.condition ->> 'metric', 'healthFactor') = 'healthFactor'
   AND EXISTS (
        SELECT 1
          FROM (SELECT DISTINCT ON (p.protocol, p.chain_id)
                       coalesce(p.health_factor, 'Infinity') AS health_factor
                  FROM positions AS p
                 WHERE p.user_id = i.user_id
                   AND (i.protocol IS NULL OR p.protocol = i.protocol)
                   AND (i.chain_id IS NULL OR p.chain_id = i.chain_id)
                 ORDER BY p.protocol, p.chain_id, p.snapshot_at DESC,
                          p.write_seq DESC NULLS LAST, p.id DESC) AS latest
         WHERE CASE i.condition ->> 'operator'
                   WHEN '<'  THEN latest.health_factor <  c.threshold
                   WHEN '<=' THEN latest.health_factor <= c.threshold
                   WHEN '>'  THEN latest.health_factor >  c.threshold
                   WHEN '>=' THEN latest.health_factor >= c.threshold
                   ELSE false
               END
       )
 ORDER BY i.created_at, i.id;
