-- Undo 0051.create-index-intents-user-id-id.
-- transactional: false

DROP INDEX CONCURRENTLY IF EXISTS intents_user_id_id_key;
