-- Append-only event store for event-sourced aggregates and projections; the
-- database itself refuses UPDATE, DELETE and TRUNCATE so that history cannot
-- be rewritten by accident, and archive_events() is the only way to move old
-- events out.
-- depends: 0006.create-intents

CREATE TABLE event_store (
    position    bigint      GENERATED ALWAYS AS IDENTITY,
    event_id    uuid        NOT NULL DEFAULT gen_random_uuid(),
    stream_type text        NOT NULL,
    stream_id   uuid        NOT NULL,
    -- squawk-ignore prefer-bigint-over-int -- a stream never nears 2^31 events
    version     integer     NOT NULL,
    event_type  text        NOT NULL,
    payload     jsonb       NOT NULL,
    metadata    jsonb       NOT NULL DEFAULT '{}'::jsonb,
    occurred_at timestamptz NOT NULL DEFAULT now(),
    recorded_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT event_store_pkey PRIMARY KEY (position),
    CONSTRAINT event_store_event_id_key UNIQUE (event_id),
    CONSTRAINT event_store_stream_id_version_key UNIQUE (stream_id, version),
    CONSTRAINT event_store_stream_type_check CHECK (stream_type <> ''),
    CONSTRAINT event_store_version_check CHECK (version >= 1),
    CONSTRAINT event_store_event_type_check CHECK (event_type <> ''),
    CONSTRAINT event_store_payload_check CHECK (jsonb_typeof(payload) = 'object'),
    CONSTRAINT event_store_metadata_check CHECK (jsonb_typeof(metadata) = 'object')
);

COMMENT ON TABLE event_store IS
    'Append-only log of domain events. UPDATE, DELETE and TRUNCATE are rejected by triggers; old events are moved to event_store_archive by archive_events(cutoff).';
COMMENT ON COLUMN event_store.position IS
    'Global ordering key for projections, assigned at insert time. Gap-tolerant: rolled-back appends leave gaps, which are normal. Values are taken at insert, not at commit, so concurrent appends can become visible out of position order.';
COMMENT ON COLUMN event_store.event_id IS
    'Client-supplied (or generated) event identity; unique, so re-sending the same event is rejected and appends are idempotent.';
COMMENT ON COLUMN event_store.stream_type IS
    'Aggregate type of the stream, e.g. ''position'' or ''intent''.';
COMMENT ON COLUMN event_store.stream_id IS
    'Aggregate (stream) identity.';
COMMENT ON COLUMN event_store.version IS
    'Per-stream sequence number starting at 1; UNIQUE (stream_id, version) provides optimistic concurrency: two writers appending the same version conflict.';
COMMENT ON COLUMN event_store.event_type IS
    'Event name, e.g. ''IntentTriggered''.';
COMMENT ON COLUMN event_store.payload IS
    'JSON object with the event data; shape depends on event_type.';
COMMENT ON COLUMN event_store.metadata IS
    'JSON object with technical context (e.g. correlation/causation ids, actor); empty object if none.';
COMMENT ON COLUMN event_store.occurred_at IS
    'When the event happened in the domain (may be earlier than recorded_at).';
COMMENT ON COLUMN event_store.recorded_at IS
    'When the event was appended (transaction start time); archive_events() uses it as the cut-off column.';

CREATE INDEX event_store_stream_type_position_idx ON event_store (stream_type, position);

COMMENT ON INDEX event_store_stream_type_position_idx IS
    'Serves reading all events of one stream type in global order (per-type projections).';

CREATE INDEX event_store_recorded_at_idx ON event_store (recorded_at);

COMMENT ON INDEX event_store_recorded_at_idx IS
    'Serves archive_events(cutoff), which selects events with recorded_at < cutoff.';

CREATE TABLE event_store_archive (
    position    bigint      NOT NULL,
    event_id    uuid        NOT NULL,
    stream_type text        NOT NULL,
    stream_id   uuid        NOT NULL,
    -- squawk-ignore prefer-bigint-over-int -- a stream never nears 2^31 events
    version     integer     NOT NULL,
    event_type  text        NOT NULL,
    payload     jsonb       NOT NULL,
    metadata    jsonb       NOT NULL,
    occurred_at timestamptz NOT NULL,
    recorded_at timestamptz NOT NULL,
    archived_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT event_store_archive_pkey PRIMARY KEY (position),
    CONSTRAINT event_store_archive_event_id_key UNIQUE (event_id),
    CONSTRAINT event_store_archive_stream_id_version_key UNIQUE (stream_id, version)
);

COMMENT ON TABLE event_store_archive IS
    'Events moved out of event_store by archive_events(cutoff); same columns and values as in event_store (including position) plus archived_at.';
COMMENT ON COLUMN event_store_archive.position IS
    'The event''s original event_store.position (not regenerated).';
COMMENT ON COLUMN event_store_archive.payload IS
    'The event''s original event_store.payload (JSON object).';
COMMENT ON COLUMN event_store_archive.metadata IS
    'The event''s original event_store.metadata (JSON object).';
COMMENT ON COLUMN event_store_archive.archived_at IS
    'When archive_events() moved the event here (transaction start time).';

CREATE FUNCTION event_store_forbid_change()
RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    -- archive_events() sets defi_sql.archiving = 'on' (transaction-local)
    -- while it moves rows; only its DELETEs are let through.
    IF TG_OP = 'DELETE' AND TG_TABLE_NAME = 'event_store'
       AND current_setting('defi_sql.archiving', true) = 'on' THEN
        RETURN OLD;
    END IF;

    RAISE EXCEPTION USING
        ERRCODE = 'restrict_violation',
        MESSAGE = format('%I is append-only: events cannot be updated or deleted', TG_TABLE_NAME),
        DETAIL  = format('%s on %I was rejected.', TG_OP, TG_TABLE_NAME),
        HINT    = 'archive old events with SELECT archive_events(cutoff)';
END;
$$;

COMMENT ON FUNCTION event_store_forbid_change() IS
    'Trigger function that makes event_store and event_store_archive append-only: raises restrict_violation (SQLSTATE 23001) on UPDATE, DELETE and TRUNCATE. The only exception is a row DELETE from event_store while defi_sql.archiving = ''on'', which archive_events() sets for its own transaction. This guards against mistakes, not against a role that can set the parameter or disable triggers.';

CREATE TRIGGER event_store_forbid_update_delete
    BEFORE UPDATE OR DELETE ON event_store
    FOR EACH ROW
    EXECUTE FUNCTION event_store_forbid_change();

COMMENT ON TRIGGER event_store_forbid_update_delete ON event_store IS
    'Rejects UPDATE and DELETE of events (DELETE is allowed only inside archive_events()).';

CREATE TRIGGER event_store_forbid_truncate
    BEFORE TRUNCATE ON event_store
    FOR EACH STATEMENT
    EXECUTE FUNCTION event_store_forbid_change();

COMMENT ON TRIGGER event_store_forbid_truncate ON event_store IS
    'Rejects TRUNCATE of event_store, without exception.';

CREATE TRIGGER event_store_archive_forbid_update_delete
    BEFORE UPDATE OR DELETE ON event_store_archive
    FOR EACH ROW
    EXECUTE FUNCTION event_store_forbid_change();

COMMENT ON TRIGGER event_store_archive_forbid_update_delete ON event_store_archive IS
    'Archived history is append-only too: rejects UPDATE and DELETE, without exception.';

CREATE TRIGGER event_store_archive_forbid_truncate
    BEFORE TRUNCATE ON event_store_archive
    FOR EACH STATEMENT
    EXECUTE FUNCTION event_store_forbid_change();

COMMENT ON TRIGGER event_store_archive_forbid_truncate ON event_store_archive IS
    'Rejects TRUNCATE of event_store_archive, without exception.';

CREATE FUNCTION archive_events(cutoff timestamptz)
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
                  event_type, payload, metadata, occurred_at, recorded_at
    )
    INSERT INTO event_store_archive (
        position, event_id, stream_type, stream_id, version,
        event_type, payload, metadata, occurred_at, recorded_at
    )
    SELECT position, event_id, stream_type, stream_id, version,
           event_type, payload, metadata, occurred_at, recorded_at
    FROM moved;

    GET DIAGNOSTICS moved_count = ROW_COUNT;

    PERFORM set_config('defi_sql.archiving', 'off', true);

    RETURN moved_count;
END;
$$;

COMMENT ON FUNCTION archive_events(timestamptz) IS
    'Moves every event with recorded_at < cutoff from event_store to event_store_archive in one statement and returns the number of events moved. Idempotent: events already archived are no longer in event_store, so a repeated call moves nothing. Note that archived events leave the scope of event_store''s UNIQUE (event_id) and (stream_id, version) constraints; archive only streams that will not be appended to again.';
