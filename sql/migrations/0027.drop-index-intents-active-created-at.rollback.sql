-- Undo 0027.drop-index-intents-active-created-at.
-- transactional: false

-- A build that fails leaves an INVALID index of this name behind: drop it
-- (DROP INDEX CONCURRENTLY) and migrate again. IF NOT EXISTS would instead
-- skip the build and keep the invalid index.
-- squawk-ignore prefer-robust-stmts -- IF NOT EXISTS would keep a failed build's invalid index, see above
CREATE INDEX CONCURRENTLY intents_active_created_at_idx
    ON intents (created_at)
    WHERE status = 'active';
