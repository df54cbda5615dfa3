-- Undo 0033.comment-index-event-store-transaction-id-position.

COMMENT ON INDEX event_store_transaction_id_position_idx IS NULL;
