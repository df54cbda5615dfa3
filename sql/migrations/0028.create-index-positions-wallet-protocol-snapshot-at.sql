-- wallet_protocol_positions reads a wallet's snapshots on a protocol newest
-- first, LIMIT n: with an index on (wallet_address, protocol) only, it read and
-- sorted every snapshot of that wallet. This index gives the order as it reads
-- (one tie-break sort among equal snapshot_at at most); it replaces
-- positions_wallet_address_protocol_idx, which 0030 drops.
-- depends: 0027.drop-index-intents-active-created-at
-- transactional: false

-- A build that fails leaves an INVALID index of this name behind: drop it
-- (DROP INDEX CONCURRENTLY) and migrate again. IF NOT EXISTS would instead
-- skip the build and keep the invalid index.
-- squawk-ignore prefer-robust-stmts -- IF NOT EXISTS would keep a failed build's invalid index, see above
CREATE INDEX CONCURRENTLY positions_wallet_address_protocol_snapshot_at_idx
    ON positions (wallet_address, protocol, snapshot_at DESC);
