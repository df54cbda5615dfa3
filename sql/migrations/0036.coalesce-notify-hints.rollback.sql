-- Undo 0036.coalesce-notify-hints: every queueing transaction notifies again,
-- as 0031 and 0035 made it.

CREATE OR REPLACE FUNCTION event_store_notify()
RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    PERFORM pg_notify('defi_events', '');
    RETURN NULL;
END;
$$;

COMMENT ON FUNCTION event_store_notify() IS
    'Trigger function: notifies channel defi_events, once per appending statement (delivered at COMMIT, folded into one per transaction). A hint for waiting consumers, not the queue: they still read from their checkpoint.';

CREATE OR REPLACE FUNCTION alerts_notify()
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
