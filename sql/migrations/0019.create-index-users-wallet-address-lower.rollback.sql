-- Undo 0019.create-index-users-wallet-address-lower.
-- transactional: false

DROP INDEX CONCURRENTLY IF EXISTS users_wallet_address_lower_idx;
