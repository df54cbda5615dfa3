-- Development and benchmark data (`defi-sql seed`). Both are idempotent:
-- fixed ids or deterministic wallet addresses with ON CONFLICT DO NOTHING, so
-- running a seed twice adds nothing the second time.
-- role: owner

-- name: seed_dev_data#
-- A small hand-written dataset touching every table: the seed document's
-- examples (a moderate user on Aave, an at-risk user, signals, alerts, an
-- intent "if health factor < 1.2, repay 1000 USDT", and their events).
INSERT INTO users (id, wallet_address, preferences, telegram_chat_id)
VALUES
    ('00000000-0000-4000-8000-000000000001', '0x1234567890abcdef1234567890abcdef12345678',
     '{"riskProfile": "moderate", "alertThresholds": {"healthFactor": 1.5},
       "activeSignals": ["funding_rate", "whale_movement"],
       "notificationChannels": ["telegram", "in_app"]}', '100000001'),
    ('00000000-0000-4000-8000-000000000002', '0xabcdefabcdefabcdefabcdefabcdefabcdefabcd',
     '{"riskProfile": "aggressive", "alertThresholds": {"healthFactor": 1.1},
       "activeSignals": ["liquidation_risk"], "notificationChannels": ["email"]}', NULL)
ON CONFLICT DO NOTHING;

-- positions is unique on (id, snapshot_at) only (partitioned, 0045), and these
-- snapshots are dated by now(): a second run skips the ids it finds instead
INSERT INTO positions (id, user_id, wallet_address, protocol, chain_id, health_factor,
                       collateral, debt, metadata, snapshot_at)
SELECT v.id::uuid, v.user_id::uuid, v.wallet_address, v.protocol, v.chain_id, v.health_factor,
       v.collateral::jsonb, v.debt::jsonb, v.metadata::jsonb, v.snapshot_at
  FROM (VALUES
    ('00000000-0000-4000-8000-000000000101', '00000000-0000-4000-8000-000000000001',
     '0x1234567890abcdef1234567890abcdef12345678', 'aave', 1, 2.5,
     '[{"symbol": "ETH", "amount": "1.5", "valueUSD": "3000"}]',
     '[{"symbol": "USDC", "amount": "1500", "valueUSD": "1500"}]',
     '{"ltv": "0.5", "liquidationThreshold": "0.825"}', now() - interval '5 minutes'),
    ('00000000-0000-4000-8000-000000000102', '00000000-0000-4000-8000-000000000001',
     '0x1234567890abcdef1234567890abcdef12345678', 'aave', 1, 2.4,
     '[{"symbol": "ETH", "amount": "1.5", "valueUSD": "2900"}]',
     '[{"symbol": "USDC", "amount": "1500", "valueUSD": "1500"}]',
     '{"ltv": "0.52", "liquidationThreshold": "0.825"}', now()),
    ('00000000-0000-4000-8000-000000000103', '00000000-0000-4000-8000-000000000002',
     '0xabcdefabcdefabcdefabcdefabcdefabcdefabcd', 'compound', 1, 1.05,
     '[{"symbol": "WBTC", "amount": "0.1", "valueUSD": "9000"}]',
     '[{"symbol": "USDT", "amount": "7000", "valueUSD": "7000"}]',
     '{"ltv": "0.78", "liquidationThreshold": "0.82"}', now()),
    ('00000000-0000-4000-8000-000000000104', '00000000-0000-4000-8000-000000000002',
     '0xabcdefabcdefabcdefabcdefabcdefabcdefabcd', 'aave', 10, NULL,
     '[{"symbol": "OP", "amount": "500", "valueUSD": "900"}]', '[]', '{}', now())
  ) AS v (id, user_id, wallet_address, protocol, chain_id, health_factor, collateral, debt,
          metadata, snapshot_at)
 WHERE NOT EXISTS (SELECT FROM positions AS p WHERE p.id = v.id::uuid);

INSERT INTO signals (id, type, asset, severity, data, detected_at, expires_at, status)
VALUES
    ('00000000-0000-4000-8000-000000000201', 'funding_rate', 'AAVE', 'high',
     '{"value": "0.0125", "percentile": 97}', now() - interval '10 minutes',
     now() + interval '1 hour', 'active'),
    ('00000000-0000-4000-8000-000000000202', 'whale_movement', 'ETH', 'medium',
     '{"value": "12000", "unit": "ETH"}', now() - interval '2 hours',
     now() - interval '1 hour', 'expired'),
    ('00000000-0000-4000-8000-000000000203', 'liquidation_risk', 'USDT', 'critical',
     '{"healthFactor": "1.05"}', now(), NULL, 'active')
ON CONFLICT DO NOTHING;

INSERT INTO alerts (id, user_id, signal_id, type, channel, message, metadata, sent_at, status)
VALUES
    ('00000000-0000-4000-8000-000000000301', '00000000-0000-4000-8000-000000000001',
     '00000000-0000-4000-8000-000000000201', 'signal_detected', 'telegram',
     'AAVE funding rate is in its 97th percentile', '{}', NULL, 'pending'),
    ('00000000-0000-4000-8000-000000000302', '00000000-0000-4000-8000-000000000002',
     '00000000-0000-4000-8000-000000000203', 'health_factor_critical', 'email',
     'Your Compound health factor is 1.05', '{"healthFactor": "1.05"}', now(), 'sent')
ON CONFLICT DO NOTHING;

INSERT INTO intents (id, user_id, protocol, chain_id, condition, action, status, expires_at)
VALUES
    ('00000000-0000-4000-8000-000000000401', '00000000-0000-4000-8000-000000000002',
     'compound', 1, '{"metric": "healthFactor", "operator": "<", "value": "1.2"}',
     '{"type": "repay", "asset": "USDT", "amount": "1000"}', 'active', now() + interval '30 days')
ON CONFLICT DO NOTHING;

INSERT INTO event_store (event_id, stream_type, stream_id, version, event_type, payload)
VALUES
    ('00000000-0000-4000-8000-000000000501', 'user', '00000000-0000-4000-8000-000000000001', 1,
     'UserRegistered', '{"walletAddress": "0x1234567890abcdef1234567890abcdef12345678"}'),
    ('00000000-0000-4000-8000-000000000502', 'user', '00000000-0000-4000-8000-000000000002', 1,
     'UserRegistered', '{"walletAddress": "0xabcdefabcdefabcdefabcdefabcdefabcdefabcd"}'),
    ('00000000-0000-4000-8000-000000000503', 'intent', '00000000-0000-4000-8000-000000000401', 1,
     'IntentCreated', '{"condition": {"metric": "healthFactor", "operator": "<", "value": "1.2"}}')
ON CONFLICT DO NOTHING;

-- name: seed_generated_users(first, count, snapshots)$
-- Generate users numbered first .. first + count - 1 (wallet 0x + the number in
-- 8 hex digits + 32 hex digits of its md5), skipping those that exist; for each
-- new user: `snapshots` position snapshots five minutes apart on one or two
-- protocols, a pending or sent alert, every third user an active intent, and
-- two events; every tenth user also adds a signal. Returns the users added
-- (every data-modifying CTE runs to completion whether or not it is read).
-- returns: int
-- shards: multi, development data for many users at once
WITH new_users AS (
    INSERT INTO users (wallet_address, preferences, telegram_chat_id)
    SELECT '0x' || lpad(to_hex(i), 8, '0') || substr(md5('defi-seed-' || i), 1, 32),
           jsonb_build_object(
               'riskProfile', (ARRAY['conservative', 'moderate', 'aggressive'])[1 + mod(i, 3)],
               'alertThresholds', jsonb_build_object('healthFactor', (ARRAY[1.2, 1.5, 2.0])[1 + mod(i, 3)]),
               'activeSignals', CASE WHEN mod(i, 2) = 0
                                     THEN '["funding_rate", "whale_movement"]'::jsonb
                                     ELSE '["liquidation_risk"]'::jsonb END,
               'notificationChannels', CASE WHEN mod(i, 4) = 0
                                            THEN '["telegram", "in_app"]'::jsonb
                                            ELSE '["in_app"]'::jsonb END),
           CASE WHEN mod(i, 4) = 0 THEN (100000000 + i)::text END
      FROM generate_series(:first::integer, :first::integer + :count::integer - 1) AS i
    ON CONFLICT (wallet_address) DO NOTHING
    RETURNING id, wallet_address, ('x' || substr(wallet_address, 3, 8))::bit(32)::integer AS n
), new_positions AS (
    INSERT INTO positions (user_id, wallet_address, protocol, chain_id, health_factor,
                           collateral, debt, metadata, snapshot_at)
    SELECT u.id, u.wallet_address,
           (ARRAY['aave', 'compound', 'spark', 'morpho'])[1 + mod(u.n + mod(s, 1 + mod(u.n, 2)), 4)],
           CASE WHEN mod(u.n, 5) = 0 THEN 10 ELSE 1 END,
           hf.value,
           jsonb_build_array(jsonb_build_object(
               'symbol', 'ETH', 'amount', round(amt.eth, 6)::text,
               'valueUSD', round(amt.eth * 3000, 2)::text)),
           CASE WHEN hf.value IS NULL THEN '[]'::jsonb
                ELSE jsonb_build_array(jsonb_build_object(
                    'symbol', 'USDC', 'amount', round(amt.eth * 3000 * 0.825 / hf.value, 2)::text,
                    'valueUSD', round(amt.eth * 3000 * 0.825 / hf.value, 2)::text)) END,
           jsonb_build_object('ltv', round((0.825 / coalesce(hf.value, 1000))::numeric, 4)::text,
                              'liquidationThreshold', '0.825'),
           now() - s * interval '5 minutes'
      FROM new_users AS u
     CROSS JOIN generate_series(0, :snapshots::integer - 1) AS s
     CROSS JOIN LATERAL (SELECT (0.5 + random() * 20)::numeric AS eth) AS amt
     CROSS JOIN LATERAL (SELECT CASE WHEN mod(u.n, 10) = 3 THEN NULL
                                     ELSE round((0.95 + random() * 2.5)::numeric, 4) END
                                AS value) AS hf
    RETURNING 1
), new_signals AS (
    INSERT INTO signals (type, asset, severity, data, detected_at, expires_at, status)
    SELECT (ARRAY['funding_rate', 'whale_movement', 'liquidation_risk'])[1 + mod(u.n, 3)],
           (ARRAY['AAVE', 'ETH', 'USDC', 'WBTC'])[1 + mod(u.n, 4)],
           (ARRAY['low', 'medium', 'high', 'critical'])[1 + mod(u.n, 4)],
           jsonb_build_object('value', round((random() * 100)::numeric, 4)::text),
           now() - (mod(u.n, 120)) * interval '1 minute',
           now() + interval '1 hour' - (mod(u.n, 120)) * interval '1 minute',
           CASE WHEN mod(u.n, 3) = 0 THEN 'expired' ELSE 'active' END
      FROM new_users AS u
     WHERE mod(u.n, 10) = 0
    RETURNING id
), new_alerts AS (
    INSERT INTO alerts (user_id, type, channel, message, sent_at, status)
    SELECT u.id, 'health_factor_warning',
           CASE WHEN mod(u.n, 4) = 0 THEN 'telegram' ELSE 'in_app' END,
           'Health factor is approaching your threshold',
           CASE WHEN mod(u.n, 2) = 1 THEN now() END,
           CASE WHEN mod(u.n, 2) = 1 THEN 'sent' ELSE 'pending' END
      FROM new_users AS u
    RETURNING 1
), new_intents AS (
    INSERT INTO intents (user_id, protocol, chain_id, condition, action)
    SELECT u.id, 'aave', 1,
           jsonb_build_object('metric', 'healthFactor', 'operator', '<', 'value', '1.2'),
           jsonb_build_object('type', 'repay', 'asset', 'USDC', 'amount', '1000')
      FROM new_users AS u
     WHERE mod(u.n, 3) = 0
    RETURNING 1
), new_events AS (
    INSERT INTO event_store (stream_type, stream_id, version, event_type, payload)
    SELECT 'user', u.id, v.version, v.event_type,
           jsonb_build_object('walletAddress', u.wallet_address)
      FROM new_users AS u
     CROSS JOIN (VALUES (1, 'UserRegistered'), (2, 'PreferencesSet')) AS v (version, event_type)
    RETURNING 1
)
SELECT count(*) FROM new_users;
