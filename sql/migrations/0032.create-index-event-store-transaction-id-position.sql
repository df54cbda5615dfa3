-- Consumers read the event store in (transaction_id, position) order from
-- their checkpoint (migration 0031): this index gives that order as it reads,
-- so a poll visits only the events after the checkpoint.
-- depends: 0031.add-event-store-transaction-id-and-owner
-- transactional: false

-- A build that fails leaves an INVALID index of this name behind: drop it
-- (DROP INDEX CONCURRENTLY) and migrate again. IF NOT EXISTS would instead
-- skip the build and keep the invalid index.
-- squawk-ignore prefer-robust-stmts -- IF NOT EXISTS would keep a failed build's invalid index, see above
CREATE INDEX CONCURRENTLY event_store_transaction_id_position_idx
    ON event_store (transaction_id, position);
