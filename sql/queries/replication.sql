-- Streaming replication: where the primary's WAL stands, and how far a replica
-- has replayed it; the read-your-writes token of the router (defi_sql/aio/router.py).
-- role: defi_app, defi_worker

-- name: replication_position()$
-- Where the primary's WAL ends now: at or past the end of every commit that
-- returned before it was read, so a replica that has replayed up to here shows
-- them all. The insert position, not the write or flush one: with
-- synchronous_commit = off a COMMIT returns before its record is written, and a
-- token short of the commit would let a replica serve a stale read; reaching
-- past it (others' records inserted since) only makes a read wait a little
-- longer. On a page boundary the insert position points past the page header
-- (24 bytes, 40 at a segment's start) that no replay position ever reaches, so
-- the position is taken back to the boundary, where replay stops.
-- one row: a scalar function in FROM gives one row
-- returns: str
-- not null: position
SELECT (CASE
            WHEN mod(here.byte, pg_size_bytes(current_setting('wal_segment_size'))) = 40
                THEN here.lsn - 40
            WHEN mod(here.byte, current_setting('wal_block_size')::bigint) = 24
                THEN here.lsn - 24
            ELSE here.lsn
        END)::text AS position
  FROM (SELECT lsn, lsn - '0/0'::pg_lsn AS byte
          FROM pg_current_wal_insert_lsn() AS lsn) AS here;

-- name: replication_replayed()$
-- How far this server has replayed the primary's WAL; NULL when it is not in
-- recovery (a primary, or a replica since promoted), which serves no replica read.
-- replica: ok
-- returns: str | None
SELECT CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn()::text END AS replayed;
