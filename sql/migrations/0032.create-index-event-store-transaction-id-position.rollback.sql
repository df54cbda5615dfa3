-- Undo 0032.create-index-event-store-transaction-id-position.
-- transactional: false

DROP INDEX CONCURRENTLY IF EXISTS event_store_transaction_id_position_idx;
