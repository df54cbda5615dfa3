-- Two fan-outs of the same signal running at once could each queue an alert
-- for the same user (NOT EXISTS cannot see the other's uncommitted rows); a
-- unique index makes the second one skip those users with ON CONFLICT instead.
-- depends: 0007.create-event-store

CREATE UNIQUE INDEX alerts_signal_id_user_id_type_key
    ON alerts (signal_id, user_id, type)
    WHERE signal_id IS NOT NULL;

COMMENT ON INDEX alerts_signal_id_user_id_type_key IS
    'At most one alert of a type per (signal, user): makes fan-outs idempotent under concurrency.';
