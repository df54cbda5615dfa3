-- Consumers of the event store must never skip an event, and a user's events
-- are that user's.
--
-- Gap-free order. position is taken at INSERT, not at COMMIT: a transaction
-- that appends position 1 and commits after another one committed position 2
-- makes a consumer that read 2 skip 1 for ever. transaction_id records the
-- appending transaction (pg_current_xact_id()); a consumer reads in
-- (transaction_id, position) order and only what is below
-- pg_snapshot_xmin(pg_current_snapshot()): every transaction below that
-- horizon has ended, so nothing can appear later behind a checkpoint. A
-- transaction still open holds consumers back until it ends; it is never
-- skipped.
--
-- Ownership. owner_id is the user a stream belongs to, the user the appender
-- acts for (acting_user_id(), migration 0015), or NULL for the service's own
-- streams. The first event of a stream decides its owner: later appends take it
-- over (a worker appending to a user's stream keeps it the user's), and an
-- append acting for another user is refused. defi_app sees and appends only
-- the acting user's events, as with the other per-user tables; defi_worker and
-- the owner see every event.
--
-- event_subscriptions holds named consumers' checkpoints, and every append
-- notifies channel defi_events, so consumers wake without polling.
-- depends: 0030.drop-index-positions-wallet-address-protocol

-- A constant default is stored in the catalog, not written into every row: no
-- rewrite of event_store, and the events appended before this migration all
-- read transaction_id 0, ordered among themselves by position (all of them
-- committed long ago). The real default applies to new rows only.
ALTER TABLE event_store ADD COLUMN transaction_id xid8 NOT NULL DEFAULT '0';

ALTER TABLE event_store ALTER COLUMN transaction_id SET DEFAULT pg_current_xact_id();

ALTER TABLE event_store ADD COLUMN owner_id uuid;

ALTER TABLE event_store ALTER COLUMN owner_id SET DEFAULT acting_user_id();

ALTER TABLE event_store_archive ADD COLUMN transaction_id xid8 NOT NULL DEFAULT '0';

ALTER TABLE event_store_archive ADD COLUMN owner_id uuid;

COMMENT ON COLUMN event_store.transaction_id IS
    'The appending transaction (pg_current_xact_id()); 0 for events appended before migration 0031. Consumers read in (transaction_id, position) order, below pg_snapshot_xmin(pg_current_snapshot()): gap-free, whatever order transactions commit in.';
COMMENT ON COLUMN event_store.owner_id IS
    'The user the stream belongs to (the first event of the stream decides), NULL for the service''s own streams. defi_app sees and appends only the acting user''s events.';
COMMENT ON COLUMN event_store_archive.transaction_id IS
    'The event''s original event_store.transaction_id.';
COMMENT ON COLUMN event_store_archive.owner_id IS
    'The event''s original event_store.owner_id.';

-- squawk-ignore require-concurrent-index-creation -- only archive_events() writes the archive: a plain build blocks that maintenance job for its length, never a reader
CREATE INDEX event_store_archive_transaction_id_position_idx
    ON event_store_archive (transaction_id, position);

COMMENT ON INDEX event_store_archive_transaction_id_position_idx IS
    'Serves catch-up reads of archived events in (transaction_id, position) order (read_all_after, subscriptions).';

CREATE FUNCTION event_store_stream_owner()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, public
AS $$
DECLARE
    stream_owner uuid;
    known boolean;
BEGIN
    -- whatever the writer sent: the order consumers rely on is the database's
    NEW.transaction_id := pg_current_xact_id();
    SELECT owner_id, true INTO stream_owner, known
      FROM event_store
     WHERE stream_id = NEW.stream_id AND version = 1;
    IF known IS NULL THEN
        SELECT owner_id, true INTO stream_owner, known
          FROM event_store_archive
         WHERE stream_id = NEW.stream_id AND version = 1;
    END IF;
    IF known IS NULL THEN  -- a new stream: its first event decides
        RETURN NEW;
    END IF;
    IF NEW.owner_id IS NULL THEN  -- nobody acted for: the stream's owner stays
        NEW.owner_id := stream_owner;
    ELSIF NEW.owner_id IS DISTINCT FROM stream_owner THEN
        RAISE EXCEPTION USING
            ERRCODE = 'insufficient_privilege',
            MESSAGE = format('stream %s belongs to another owner', NEW.stream_id),
            HINT = 'append to a stream only while acting for the user who owns it';
    END IF;
    RETURN NEW;
END;
$$;

COMMENT ON FUNCTION event_store_stream_owner() IS
    'Trigger function: an appended event gets its transaction''s id (pg_current_xact_id(), whatever the writer sent), takes its stream''s owner (the owner_id of version 1, in event_store or the archive) when nobody is acted for, and an event acting for another user is refused (insufficient_privilege). SECURITY DEFINER: it must see the stream''s first event whatever row-level security hides from the appender.';

REVOKE EXECUTE ON FUNCTION event_store_stream_owner() FROM PUBLIC;

CREATE TRIGGER event_store_stream_owner
    BEFORE INSERT ON event_store
    FOR EACH ROW
    EXECUTE FUNCTION event_store_stream_owner();

COMMENT ON TRIGGER event_store_stream_owner ON event_store IS
    'Sets the appending transaction''s id and keeps every event of a stream with the owner of its first event.';

ALTER TABLE event_store ENABLE ROW LEVEL SECURITY;
CREATE POLICY event_store_acting_user ON event_store TO defi_app
    USING (owner_id = acting_user_id())
    WITH CHECK (owner_id = acting_user_id());

ALTER TABLE event_store_archive ENABLE ROW LEVEL SECURITY;
CREATE POLICY event_store_archive_acting_user ON event_store_archive TO defi_app
    USING (owner_id = acting_user_id());

COMMENT ON POLICY event_store_acting_user ON event_store IS
    'defi_app sees and appends only the events of the user it acts for.';
COMMENT ON POLICY event_store_archive_acting_user ON event_store_archive IS
    'defi_app sees only the archived events of the user it acts for.';

CREATE OR REPLACE FUNCTION archive_events(cutoff timestamptz)
RETURNS bigint
LANGUAGE plpgsql
AS $$
DECLARE
    moved_count bigint;
BEGIN
    IF cutoff IS NULL THEN
        RAISE EXCEPTION USING
            ERRCODE = 'null_value_not_allowed',
            MESSAGE = 'archive_events: cutoff must not be NULL';
    END IF;

    PERFORM set_config('defi_sql.archiving', 'on', true);

    WITH moved AS (
        DELETE FROM event_store
        WHERE recorded_at < cutoff
        RETURNING position, event_id, stream_type, stream_id, version,
                  event_type, payload, metadata, occurred_at, recorded_at,
                  transaction_id, owner_id
    )
    INSERT INTO event_store_archive (
        position, event_id, stream_type, stream_id, version,
        event_type, payload, metadata, occurred_at, recorded_at,
        transaction_id, owner_id
    )
    SELECT position, event_id, stream_type, stream_id, version,
           event_type, payload, metadata, occurred_at, recorded_at,
           transaction_id, owner_id
    FROM moved;

    GET DIAGNOSTICS moved_count = ROW_COUNT;

    PERFORM set_config('defi_sql.archiving', 'off', true);

    RETURN moved_count;
END;
$$;

CREATE TABLE event_subscriptions (
    name           text        NOT NULL,
    stream_types   text[],
    transaction_id xid8        NOT NULL DEFAULT '0',
    position       bigint      NOT NULL DEFAULT 0,
    events_handled bigint      NOT NULL DEFAULT 0,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT event_subscriptions_pkey PRIMARY KEY (name),
    CONSTRAINT event_subscriptions_name_check CHECK (name <> '' AND length(name) <= 200),
    CONSTRAINT event_subscriptions_stream_types_check CHECK (
        stream_types IS NULL OR (cardinality(stream_types) > 0 AND array_position(stream_types, NULL) IS NULL)
    ),
    CONSTRAINT event_subscriptions_position_check CHECK (position >= 0),
    CONSTRAINT event_subscriptions_events_handled_check CHECK (events_handled >= 0)
);

COMMENT ON TABLE event_subscriptions IS
    'Named consumers of the event store and their checkpoints: the last event each has handled, as (transaction_id, position). A consumer''s handler and the move of its checkpoint commit in one transaction.';
COMMENT ON COLUMN event_subscriptions.stream_types IS
    'The stream types the consumer follows; NULL: every stream.';
COMMENT ON COLUMN event_subscriptions.transaction_id IS
    'transaction_id of the last event handled (0: none yet).';
COMMENT ON COLUMN event_subscriptions.position IS
    'position of the last event handled (0: none yet).';

GRANT SELECT, INSERT, UPDATE, DELETE ON event_subscriptions TO defi_worker;

CREATE FUNCTION event_store_notify()
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

CREATE TRIGGER event_store_notify
    AFTER INSERT ON event_store
    FOR EACH STATEMENT
    EXECUTE FUNCTION event_store_notify();

COMMENT ON TRIGGER event_store_notify ON event_store IS
    'Wakes consumers waiting on channel defi_events.';
