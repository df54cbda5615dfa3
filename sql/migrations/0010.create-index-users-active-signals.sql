-- fan_out_signal finds the users whose preferences.activeSignals hold a
-- signal's type by reading every row of users, one sequential scan per
-- fan-out that grows with the user base; a GIN index on that array lets it
-- read only the users who subscribed to the type.
-- depends: 0009.widen-chain-id-to-bigint
-- transactional: false

-- Built CONCURRENTLY, alone in a non-transactional migration, so that sign-ups
-- and preference changes are not blocked while it builds (its comment is set by
-- 0011.comment-index-users-active-signals). The planner uses it only for the
-- expression exactly as indexed with an operator of the default jsonb_ops:
-- `preferences -> 'activeSignals' ? type` (as fan_out_signal writes it), or @>.
-- A build that fails leaves an INVALID index of this name behind: drop it
-- (DROP INDEX CONCURRENTLY) and migrate again. IF NOT EXISTS would instead
-- skip the build and keep the invalid index.
-- squawk-ignore prefer-robust-stmts -- IF NOT EXISTS would keep a failed build's invalid index, see above
CREATE INDEX CONCURRENTLY users_preferences_active_signals_idx
    ON users USING gin ((preferences -> 'activeSignals'));
