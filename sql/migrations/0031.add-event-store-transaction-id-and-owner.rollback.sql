-- Undo 0031.add-event-store-transaction-id-and-owner: no subscriptions, no
-- owners, no transaction ids; archive_events() as 0007 wrote it.
-- squawk-ignore-file ban-drop-column,ban-drop-table,ban-drop-function -- drops what 0031 added; subscriptions' checkpoints go with it

DROP TRIGGER event_store_notify ON event_store;
DROP FUNCTION event_store_notify();

DROP TABLE event_subscriptions;

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

DROP POLICY event_store_archive_acting_user ON event_store_archive;
ALTER TABLE event_store_archive DISABLE ROW LEVEL SECURITY;

DROP POLICY event_store_acting_user ON event_store;
ALTER TABLE event_store DISABLE ROW LEVEL SECURITY;

DROP TRIGGER event_store_stream_owner ON event_store;
DROP FUNCTION event_store_stream_owner();


ALTER TABLE event_store_archive DROP COLUMN owner_id;
-- dropping the column drops event_store_archive_transaction_id_position_idx with it
ALTER TABLE event_store_archive DROP COLUMN transaction_id;
ALTER TABLE event_store DROP COLUMN owner_id;
ALTER TABLE event_store DROP COLUMN transaction_id;
