-- Undo 0030.drop-index-positions-wallet-address-protocol.
-- transactional: false

-- A build that fails leaves an INVALID index of this name behind: drop it
-- (DROP INDEX CONCURRENTLY) and migrate again. IF NOT EXISTS would instead
-- skip the build and keep the invalid index.
-- squawk-ignore prefer-robust-stmts -- IF NOT EXISTS would keep a failed build's invalid index, see above
CREATE INDEX CONCURRENTLY positions_wallet_address_protocol_idx
    ON positions (wallet_address, protocol);
