-- Undo 0052.comment-indexes-user-id-id.

COMMENT ON INDEX intents_user_id_id_key IS NULL;
COMMENT ON INDEX alerts_user_id_id_key IS NULL;
