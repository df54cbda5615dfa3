-- Undo 0026.comment-index-intents-active-created-at-id.

COMMENT ON INDEX intents_active_created_at_id_idx IS NULL;

COMMENT ON INDEX intents_active_created_at_idx IS
    'Partial index over active intents only: serves the evaluator''s scan of all active intents.';
