-- The user keys measurement's own statements (bench/user_keys.py, migrations 0050-0052).

-- name: user_keys_users(count)!
-- count users with made-up wallets (0x + the number in 40 hex digits).
INSERT INTO users (wallet_address)
SELECT '0x' || lpad(to_hex(i), 40, '0') FROM generate_series(1, :count) AS i
ON CONFLICT DO NOTHING;

-- name: user_keys_alerts(count)!
-- count alerts in one statement, spread over every user in turn (a fan-out's shape).
WITH u AS (SELECT array_agg(id) AS ids FROM users)
INSERT INTO alerts (user_id, type, channel, message)
SELECT u.ids[1 + mod(g, cardinality(u.ids))], 'bench', 'in_app', 'bench alert'
  FROM u, generate_series(1, :count) AS g;

-- name: user_keys_intents(count)!
-- count intents in one statement, spread over every user in turn.
WITH u AS (SELECT array_agg(id) AS ids FROM users)
INSERT INTO intents (user_id, protocol, chain_id, condition, action)
SELECT u.ids[1 + mod(g, cardinality(u.ids))], 'aave', 1,
       '{"operator": "<", "value": "1.2"}', '{"type": "notify"}'
  FROM u, generate_series(1, :count) AS g;

-- name: user_keys_user_ids(count)
-- The first count users' ids, for the one-row writes.
SELECT id FROM users ORDER BY wallet_address LIMIT :count;

-- name: user_keys_sizes()
-- Every index of alerts and intents, and each table, with its size in bytes.
SELECT c.relname::text AS name, pg_relation_size(c.oid) AS bytes
  FROM pg_class AS c
 WHERE c.oid IN ('alerts'::regclass, 'intents'::regclass)
    OR c.oid IN (SELECT indexrelid FROM pg_index
                  WHERE indrelid IN ('alerts'::regclass, 'intents'::regclass))
 ORDER BY c.relname;

-- name: user_keys_counts()^
-- How many alerts and intents there are.
SELECT (SELECT count(*) FROM alerts) AS alerts, (SELECT count(*) FROM intents) AS intents;
