-- Says what event_store_transaction_id_position_idx (0032, built CONCURRENTLY,
-- so in a migration of its own) is for.
-- depends: 0032.create-index-event-store-transaction-id-position

COMMENT ON INDEX event_store_transaction_id_position_idx IS
    'Serves reads of every stream in (transaction_id, position) order from a checkpoint (read_all_after, subscriptions).';
