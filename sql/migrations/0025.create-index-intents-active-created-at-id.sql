-- due_intents returns active intents oldest first, and intents created in one
-- transaction share created_at: the order among them is now id, so that two
-- calls list them alike. This partial index gives that order as it is read
-- (no sort); it replaces intents_active_created_at_idx (0027 drops it, 0026
-- moves the comment over).
-- depends: 0024.create-function-json-decimal
-- transactional: false

-- A build that fails leaves an INVALID index of this name behind: drop it
-- (DROP INDEX CONCURRENTLY) and migrate again. IF NOT EXISTS would instead
-- skip the build and keep the invalid index.
-- squawk-ignore prefer-robust-stmts -- IF NOT EXISTS would keep a failed build's invalid index, see above
CREATE INDEX CONCURRENTLY intents_active_created_at_id_idx
    ON intents (created_at, id)
    WHERE status = 'active';
