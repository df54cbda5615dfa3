-- The event store: append-only streams with optimistic concurrency.
-- role: defi_app, defi_worker

-- name: events_append(event_id, stream_type, stream_id, expected_version, event_type, payload, metadata, occurred_at, owner_id)^
-- Append one event as version expected_version + 1, only if the stream is at
-- expected_version now; a concurrent writer of the same version fails on
-- event_store_stream_id_version_key. No row: the stream has moved on. The
-- owner of a new stream is owner_id, else the user acted for (the trigger of
-- 0031 keeps later events with the stream's owner).
-- returns: Event
-- not null: transaction_id
INSERT INTO event_store (event_id, stream_type, stream_id, version, event_type, payload,
                         metadata, occurred_at, owner_id)
SELECT :event_id, :stream_type, :stream_id, :expected_version + 1, :event_type, :payload,
       :metadata, coalesce(:occurred_at, now()), coalesce(:owner_id::uuid, acting_user_id())
 WHERE greatest((SELECT coalesce(max(version), 0) FROM event_store
                   WHERE stream_id = :stream_id),
                 (SELECT coalesce(max(version), 0) FROM event_store_archive
                   WHERE stream_id = :stream_id)) = :expected_version
RETURNING position, event_id, stream_type, stream_id, version, event_type, payload,
          metadata, occurred_at, recorded_at, transaction_id::text::bigint AS transaction_id,
          owner_id;

-- name: events_get(event_id)^
-- One event by its id (to recognise a re-sent append).
-- returns: Event
-- not null: transaction_id
SELECT position, event_id, stream_type, stream_id, version, event_type, payload,
       metadata, occurred_at, recorded_at, transaction_id::text::bigint AS transaction_id,
       owner_id
  FROM event_store
 WHERE event_id = :event_id;

-- name: events_version(stream_id)$
-- The stream's current version, archived events included (0 when empty).
-- returns: int
SELECT greatest((SELECT coalesce(max(version), 0) FROM event_store
                  WHERE stream_id = :stream_id),
                (SELECT coalesce(max(version), 0) FROM event_store_archive
                  WHERE stream_id = :stream_id));

-- name: events_read_stream(stream_id, after_version)
-- A stream's events after a version, in version order, archived ones included.
-- returns: Event
-- not null: transaction_id
-- replica: ok
SELECT position, event_id, stream_type, stream_id, version, event_type, payload,
       metadata, occurred_at, recorded_at, transaction_id::text::bigint AS transaction_id,
       owner_id
  FROM event_store_archive
 WHERE stream_id = :stream_id
   AND version > :after_version
 UNION ALL
SELECT position, event_id, stream_type, stream_id, version, event_type, payload,
       metadata, occurred_at, recorded_at, transaction_id::text::bigint AS transaction_id,
       owner_id
  FROM event_store
 WHERE stream_id = :stream_id
   AND version > :after_version
 ORDER BY version;

-- name: events_read_all_after(after_transaction_id, after_position, stream_types, max_rows)
-- Every stream's events after a checkpoint, archived ones included, in
-- (transaction_id, position) order, and only those of transactions below the
-- snapshot's xmin: every such transaction has ended, so no event can commit
-- later behind what this returns (gap-free; an open transaction holds the
-- read back, it is never skipped). stream_types NULL: every stream type.
-- returns: Event
-- not null: transaction_id, position, event_id, stream_type, stream_id, version
-- not null: event_type, payload, metadata, occurred_at, recorded_at
-- (NOT NULL in both tables: check does not follow a projection over Merge Append)
SELECT position, event_id, stream_type, stream_id, version, event_type, payload,
       metadata, occurred_at, recorded_at, transaction_id, owner_id
  FROM (SELECT position, event_id, stream_type, stream_id, version, event_type, payload,
               metadata, occurred_at, recorded_at, transaction_id::text::bigint AS transaction_id,
               owner_id, transaction_id AS xid
          FROM event_store_archive
         UNION ALL
        SELECT position, event_id, stream_type, stream_id, version, event_type, payload,
               metadata, occurred_at, recorded_at, transaction_id::text::bigint AS transaction_id,
               owner_id, transaction_id AS xid
          FROM event_store) AS e
 -- in the outer WHERE, so that the planner merges the two (transaction_id, position)
 -- indexes in order (Merge Append) instead of sorting everything after the checkpoint
 WHERE (e.xid, e.position) > (:after_transaction_id::text::xid8, :after_position::bigint)
   AND e.xid < pg_snapshot_xmin(pg_current_snapshot())
   AND (:stream_types::text[] IS NULL OR e.stream_type = ANY (:stream_types::text[]))
 ORDER BY e.xid, e.position
 LIMIT :max_rows;

-- name: events_horizon()$
-- The oldest transaction that may still be running: every event of an older
-- transaction is committed or gone (pg_snapshot_xmin of the current snapshot).
-- returns: int
-- not null: events_horizon
SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint AS events_horizon;

-- name: events_unsettled()$
-- True while a read may soon find events that no notification announces
-- (0036): a transaction that appended is still open (it may have left the
-- notification to another one), or committed events wait behind an older
-- transaction still open. A waiter asks before it reads, and waits briefly
-- instead of sleeping while it is true. Takes the writers' advisory lock for
-- an instant only if no writer holds it: never waits, never blocks a writer
-- for longer than this statement.
-- returns: bool
-- not null: unsettled
SELECT CASE WHEN pg_try_advisory_lock(110386672631810)
            THEN NOT pg_advisory_unlock(110386672631810)
            ELSE true
       END
       OR EXISTS (SELECT FROM event_store
                   WHERE transaction_id >= pg_snapshot_xmin(pg_current_snapshot())) AS unsettled;

-- name: events_archive(cutoff)$
-- Move events recorded before the cut-off to event_store_archive; their count
-- (archive_events returns a count, never NULL). The owner's maintenance (0014).
-- role: owner
-- returns: int
-- not null: archive_events
SELECT archive_events(:cutoff);
