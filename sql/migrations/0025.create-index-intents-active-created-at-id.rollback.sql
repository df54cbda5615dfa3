-- Undo 0025.create-index-intents-active-created-at-id.
-- transactional: false

DROP INDEX CONCURRENTLY IF EXISTS intents_active_created_at_id_idx;
