-- Undo 0022.drop-index-alerts-signal-user-type: the old rule is back, which
-- fails while a user has two alerts of one type for a signal on two channels
-- (delete one of them first).
-- transactional: false

-- A build that fails leaves an INVALID index of this name behind: drop it
-- (DROP INDEX CONCURRENTLY) and migrate again. IF NOT EXISTS would instead
-- skip the build and keep the invalid index.
-- squawk-ignore prefer-robust-stmts -- IF NOT EXISTS would keep a failed build's invalid index, see above
CREATE UNIQUE INDEX CONCURRENTLY alerts_signal_id_user_id_type_key
    ON alerts (signal_id, user_id, type)
    WHERE signal_id IS NOT NULL;
