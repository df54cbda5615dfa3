-- Undo 0011.comment-index-users-active-signals: the index without a comment.

COMMENT ON INDEX users_preferences_active_signals_idx IS NULL;
