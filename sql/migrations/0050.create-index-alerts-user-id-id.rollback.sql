-- Undo 0050.create-index-alerts-user-id-id.
-- transactional: false

DROP INDEX CONCURRENTLY IF EXISTS alerts_user_id_id_key;
