-- intents_active_created_at_id_idx (0025) serves everything this one did.
-- depends: 0026.comment-index-intents-active-created-at-id
-- transactional: false

DROP INDEX CONCURRENTLY IF EXISTS intents_active_created_at_idx;
