-- The case-insensitive lookups 0018 made possible (`wallet_address = '0xAbC...'`
-- becomes lower(wallet_address) = lower('0xAbC...')) need an index on that
-- expression; users_wallet_address_key keeps serving uniqueness and
-- ON CONFLICT (wallet_address).
-- depends: 0018.create-wallet-address-type
-- transactional: false

-- A build that fails leaves an INVALID index of this name behind: drop it
-- (DROP INDEX CONCURRENTLY) and migrate again. IF NOT EXISTS would instead
-- skip the build and keep the invalid index.
-- squawk-ignore prefer-robust-stmts -- IF NOT EXISTS would keep a failed build's invalid index, see above
CREATE INDEX CONCURRENTLY users_wallet_address_lower_idx ON users (lower(wallet_address::text));
