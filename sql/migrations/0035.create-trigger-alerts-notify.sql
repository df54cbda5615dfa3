-- Delivery workers should not poll to learn that there is work: a statement
-- that queues alerts (create, fan_out, COPY, the TypeScript app) notifies
-- channel defi_alerts, and so does an operator's requeue of a dead letter
-- (failed back to pending). A retry scheduled by mark_failed does not: it is
-- not due yet, and the worker's poll (defi_sql.aio.wakeup's timeout) finds it
-- when it is. A notification is a hint, delivered at COMMIT: a worker that
-- missed one still finds the alert at its next poll.
-- No query depends on this migration (expand/contract: old and new code run
-- with or without it).
-- depends: 0034.add-alerts-next-attempt-at

CREATE FUNCTION alerts_notify()
RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    PERFORM pg_notify('defi_alerts', '');
    RETURN NULL;
END;
$$;

COMMENT ON FUNCTION alerts_notify() IS
    'Trigger function: notifies channel defi_alerts (delivered at COMMIT, folded into one per transaction). A hint for waiting delivery workers, not the queue: they still claim.';

-- Once per statement, however many rows it inserts (a fan-out inserts one per
-- subscriber): the cost of an insert does not grow with a notification per row.
CREATE TRIGGER alerts_notify_insert
    AFTER INSERT ON alerts
    FOR EACH STATEMENT
    EXECUTE FUNCTION alerts_notify();

COMMENT ON TRIGGER alerts_notify_insert ON alerts IS
    'Wakes delivery workers waiting on channel defi_alerts when alerts are queued.';

-- Per row, but only for the rows that match WHEN (a dead letter requeued):
-- claims, marks and retries, the hot path, never call the function.
CREATE TRIGGER alerts_notify_requeue
    AFTER UPDATE OF status ON alerts
    FOR EACH ROW
    WHEN (OLD.status = 'failed' AND NEW.status = 'pending')
    EXECUTE FUNCTION alerts_notify();

COMMENT ON TRIGGER alerts_notify_requeue ON alerts IS
    'Wakes delivery workers waiting on channel defi_alerts when a dead letter is put back in the queue.';
