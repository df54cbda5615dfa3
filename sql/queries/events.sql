-- The event store: append-only streams with optimistic concurrency.

-- name: append_event(event_id, stream_type, stream_id, expected_version, event_type, payload, metadata, occurred_at)^
-- Append one event as version expected_version + 1, only if the stream is at
-- expected_version now; a concurrent writer of the same version fails on
-- event_store_stream_id_version_key. No row: the stream has moved on.
-- returns: Event
INSERT INTO event_store (event_id, stream_type, stream_id, version, event_type, payload,
                         metadata, occurred_at)
SELECT :event_id, :stream_type, :stream_id, :expected_version + 1, :event_type, :payload,
       :metadata, coalesce(:occurred_at, now())
 WHERE greatest((SELECT coalesce(max(version), 0) FROM event_store
                   WHERE stream_id = :stream_id),
                 (SELECT coalesce(max(version), 0) FROM event_store_archive
                   WHERE stream_id = :stream_id)) = :expected_version
RETURNING position, event_id, stream_type, stream_id, version, event_type, payload,
          metadata, occurred_at, recorded_at;

-- name: get_event(event_id)^
-- One event by its id (to recognise a re-sent append).
-- returns: Event
SELECT position, event_id, stream_type, stream_id, version, event_type, payload,
       metadata, occurred_at, recorded_at
  FROM event_store
 WHERE event_id = :event_id;

-- name: stream_version(stream_id)$
-- The stream's current version, archived events included (0 when empty).
-- returns: int
SELECT greatest((SELECT coalesce(max(version), 0) FROM event_store
                  WHERE stream_id = :stream_id),
                (SELECT coalesce(max(version), 0) FROM event_store_archive
                  WHERE stream_id = :stream_id));

-- name: read_stream(stream_id, after_version)
-- A stream's events after a version, in version order.
-- returns: Event
SELECT position, event_id, stream_type, stream_id, version, event_type, payload,
       metadata, occurred_at, recorded_at
  FROM event_store
 WHERE stream_id = :stream_id
   AND version > :after_version
 ORDER BY version;

-- name: read_all_after(after_position, max_rows)
-- Every stream's events after a global position, in position order (projections).
-- returns: Event
SELECT position, event_id, stream_type, stream_id, version, event_type, payload,
       metadata, occurred_at, recorded_at
  FROM event_store
 WHERE position > :after_position
 ORDER BY position
 LIMIT :max_rows;

-- name: archive_events_before(cutoff)$
-- Move events recorded before the cut-off to event_store_archive; their count
-- (archive_events returns a count, never NULL).
-- returns: int
-- not null: archive_events
SELECT archive_events(:cutoff);
