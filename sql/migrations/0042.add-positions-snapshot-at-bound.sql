-- 0042.add-positions-snapshot-at-bound: the first of four steps that turn
-- positions into a table partitioned by snapshot_at (0045) without holding an
-- ACCESS EXCLUSIVE lock for as long as a scan or a rewrite of the history.
-- The existing table becomes the first partition, holding every snapshot
-- before a bound; PostgreSQL attaches it without reading it only if a
-- validated CHECK already proves that every row is below that bound.
--
-- The bound: the start (UTC) of the month after next, or of the month after
-- the newest snapshot if one is dated later. It is worked out from the data
-- and the clock, so it is written into the constraint here and read back
-- from it by 0045. Adding a NOT VALID constraint takes a brief ACCESS
-- EXCLUSIVE lock and reads nothing but the newest snapshot_at; 0043 validates
-- it while writers go on. Until 0045 a snapshot dated at or after the bound
-- is refused (no snapshot that far ahead is expected; afterwards it goes to
-- the default partition).
-- depends: 0041.comment-positions-read-model

DO $$
DECLARE
    newest timestamptz := (SELECT max(snapshot_at) FROM positions);
    bound timestamptz := greatest(
        date_trunc('month', now() AT TIME ZONE 'UTC') + interval '2 months',
        date_trunc('month', newest AT TIME ZONE 'UTC') + interval '1 month'
    ) AT TIME ZONE 'UTC';
BEGIN
    EXECUTE format(
        'ALTER TABLE positions ADD CONSTRAINT positions_snapshot_at_bound '
        'CHECK (snapshot_at < %L::timestamptz) NOT VALID',
        bound
    );
END
$$;
