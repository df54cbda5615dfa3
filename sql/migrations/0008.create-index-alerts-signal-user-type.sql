-- Two fan-outs of the same signal running at once could each queue an alert
-- for the same user (NOT EXISTS cannot see the other's uncommitted rows); a
-- unique index makes the second one skip those users with ON CONFLICT instead.
-- depends: 0007.create-event-store

-- alerts held no production data yet when this index was added, so the lock of a plain
-- CREATE INDEX blocked nothing; an index on a large table must be built CONCURRENTLY,
-- alone in a migration marked transactional: false.
-- squawk-ignore require-concurrent-index-creation -- alerts was empty then, see above
CREATE UNIQUE INDEX alerts_signal_id_user_id_type_key
    ON alerts (signal_id, user_id, type)
    WHERE signal_id IS NOT NULL;

COMMENT ON INDEX alerts_signal_id_user_id_type_key IS
    'At most one alert of a type per (signal, user): makes fan-outs idempotent under concurrency.';
