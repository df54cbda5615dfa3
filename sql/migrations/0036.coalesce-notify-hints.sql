-- 0031 and 0035 notify in every appending (or alert-queueing) transaction.
-- PostgreSQL makes each notifying transaction take one database-wide lock,
-- held until its commit is flushed, so notifying commits run one at a time:
-- with 8 clients appending at once (pgbench, embedded PostgreSQL 18), 0031's
-- trigger held appends to 2,750-2,930/s against 5,180-5,490/s without it.
--
-- A notification is only a hint, and one per burst is enough. Each trigger
-- now does two things:
--   1. It takes a shared advisory lock for the rest of its transaction: "a
--      writer of this table is in flight". Writers never wait for each other
--      (shared locks are compatible).
--   2. It notifies only if it also gets the "notifier" advisory lock without
--      waiting: at most one open transaction at a time notifies. A writer that
--      does not get it commits without the lock that serialises notifiers.
-- A waiter that checks for writers in flight before it reads (the queries
-- events_unsettled and alerts_unsettled, which take the first lock for an
-- instant if no writer holds it) never sleeps through a silent commit:
--   - no writer in flight at the check: every later writer either notifies
--     or finds a notifier that started after the check, holding the notifier
--     lock when the writer registered, so the notifier's commit wakes the
--     waiter after the writer registered, and the waiter's next check sees it;
--   - a writer in flight: the waiter polls again soon instead of sleeping.
-- pgbench with the new trigger, 8 clients: 4,790-5,505/s.
--
-- Lock keys: 'defi' + 2 and 3 (events in flight, events notifier), + 4 and 5
-- (alerts). 'defi' + 1 is the migration lock (defi_sql/migrations.py).
-- No query depends on this migration (expand/contract: old and new code run
-- with or without it).
-- depends: 0035.create-trigger-alerts-notify

CREATE OR REPLACE FUNCTION event_store_notify()
RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    PERFORM pg_advisory_xact_lock_shared(110386672631810);
    IF pg_try_advisory_xact_lock(110386672631811) THEN
        PERFORM pg_notify('defi_events', '');
    END IF;
    RETURN NULL;
END;
$$;

COMMENT ON FUNCTION event_store_notify() IS
    'Trigger function: marks an appending transaction in flight (shared advisory lock 110386672631810, until it ends) and notifies channel defi_events if no other open transaction is the notifier (advisory lock 110386672631811): notifying commits are serialised by PostgreSQL, one notifier at a time is not. A hint for waiting consumers, not the queue: they still read from their checkpoint, and poll again soon while events_unsettled says a writer is in flight (0036).';

CREATE OR REPLACE FUNCTION alerts_notify()
RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    PERFORM pg_advisory_xact_lock_shared(110386672631812);
    IF pg_try_advisory_xact_lock(110386672631813) THEN
        PERFORM pg_notify('defi_alerts', '');
    END IF;
    RETURN NULL;
END;
$$;

COMMENT ON FUNCTION alerts_notify() IS
    'Trigger function: marks an alert-queueing transaction in flight (shared advisory lock 110386672631812, until it ends) and notifies channel defi_alerts if no other open transaction is the notifier (advisory lock 110386672631813). A hint for waiting delivery workers, not the queue: they still claim, and claim again soon while alerts_unsettled says a writer is in flight (0036).';
