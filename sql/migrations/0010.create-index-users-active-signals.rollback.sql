-- Undo 0010.create-index-users-active-signals (CONCURRENTLY, like the index was
-- built: fan-outs fall back to a sequential scan of users).

DROP INDEX CONCURRENTLY IF EXISTS users_preferences_active_signals_idx;
