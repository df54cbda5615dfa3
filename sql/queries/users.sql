-- Users: one row per wallet. Wallet addresses arrive validated and lower-cased
-- by the Python layer; the table's trigger and CHECK enforce the same rule.
-- role: defi_app, defi_worker

-- name: users_create(wallet_address, preferences, telegram_chat_id)^
-- Create a user; a wallet that already has a user fails on users_wallet_address_key.
-- returns: User
INSERT INTO users (wallet_address, preferences, telegram_chat_id)
VALUES (:wallet_address, :preferences, :telegram_chat_id)
RETURNING id, wallet_address, preferences, telegram_chat_id, created_at, updated_at;

-- name: users_get(user_id)^
-- One user by id.
-- replica: ok
-- returns: User
SELECT id, wallet_address, preferences, telegram_chat_id, created_at, updated_at
  FROM users
 WHERE id = :user_id;

-- name: users_find_by_wallet(wallet_address)^
-- One user by wallet address, in any letter case (the wallet_address domain's =,
-- users_wallet_address_lower_idx). Stored addresses are lower case and unique,
-- so at most one row matches; LIMIT 1 says so to `defi-sql check`.
-- returns: User
-- replica: ok
-- shards: multi, by wallet: a look-up table by wallet once distributed (docs/scale-out.md)
SELECT id, wallet_address, preferences, telegram_chat_id, created_at, updated_at
  FROM users
 WHERE wallet_address = :wallet_address
 LIMIT 1;

-- name: users_get_or_create(wallet_address)^
-- Idempotent sign-in: the user of this wallet, created if missing. Safe under
-- concurrency: the loser of an insert race finds the winner's row.
-- returns: User
-- shards: multi, by wallet: a look-up table by wallet once distributed (docs/scale-out.md)
WITH created AS (
    INSERT INTO users (wallet_address)
    VALUES (:wallet_address)
    ON CONFLICT (wallet_address) DO NOTHING
    RETURNING id, wallet_address, preferences, telegram_chat_id, created_at, updated_at
)
SELECT id, wallet_address, preferences, telegram_chat_id, created_at, updated_at
  FROM created
 UNION ALL
SELECT id, wallet_address, preferences, telegram_chat_id, created_at, updated_at
  FROM users
 WHERE wallet_address = :wallet_address
 LIMIT 1;

-- name: users_update_preferences(user_id, patch)^
-- Merge a preferences patch into the stored object: top-level keys replaced,
-- except alertThresholds, whose keys are merged one by one, so thresholds the
-- patch does not name (the TypeScript app's own, e.g. liquidationWarning) stay.
-- returns: User
UPDATE users
   SET preferences = preferences || :patch::jsonb
       || CASE WHEN jsonb_typeof(preferences -> 'alertThresholds') = 'object'
                AND jsonb_typeof(:patch::jsonb -> 'alertThresholds') = 'object'
               THEN jsonb_build_object('alertThresholds',
                        (preferences -> 'alertThresholds') || (:patch::jsonb -> 'alertThresholds'))
               ELSE '{}'::jsonb
          END
 WHERE id = :user_id
RETURNING id, wallet_address, preferences, telegram_chat_id, created_at, updated_at;

-- name: users_set_telegram_chat(user_id, telegram_chat_id)^
-- Link (or, with NULL, unlink) the user's Telegram chat.
-- returns: User
UPDATE users
   SET telegram_chat_id = :telegram_chat_id
 WHERE id = :user_id
RETURNING id, wallet_address, preferences, telegram_chat_id, created_at, updated_at;

-- name: users_delete(user_id)!
-- Delete a user; positions, alerts and intents go with it (ON DELETE CASCADE).
DELETE FROM users
 WHERE id = :user_id;
