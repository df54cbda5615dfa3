-- 0046.create-function-positions-make-partitions: partitions of positions (0045)
-- are made ahead of the snapshots that will fill them, by the schema's owner
-- (defi-sql maintain, or a worker calling defi_sql.sync.maintenance.run).
-- Two functions, so that a DBA can read and run what maintain runs:
--   positions_partitions()    every partition of positions with its range
--                             (NULL for an unbounded end: MINVALUE, MAXVALUE,
--                             the default partition);
--   positions_make_partitions(width, until)
--                             new partitions of width (1 month, 7 days or 1
--                             day), contiguous after the last one, until one
--                             covers until. Snapshots that waited in the
--                             default partition for a range move into its new
--                             partition in the same transaction.
-- Ranges are whole months (or days) of UTC, whatever the session's time zone.
-- A transaction-level advisory lock (0x646566690006) makes two runs at once
-- take turns: the second finds the partitions made and makes none.
-- depends: 0045.partition-positions-by-snapshot-at

CREATE FUNCTION positions_partitions()
RETURNS TABLE (partition_name text, is_default boolean, range_start timestamptz,
               range_end timestamptz)
LANGUAGE sql
STABLE
SET search_path = pg_catalog, public
AS $$
    SELECT c.relname::text,
           b.bounds IS NULL,
           CASE WHEN b.bounds[1] <> 'MINVALUE' THEN btrim(b.bounds[1], '''')::timestamptz END,
           CASE WHEN b.bounds[2] <> 'MAXVALUE' THEN btrim(b.bounds[2], '''')::timestamptz END
      FROM pg_inherits AS i
      JOIN pg_class AS c ON c.oid = i.inhrelid
     CROSS JOIN LATERAL (
            SELECT regexp_match(pg_get_expr(c.relpartbound, c.oid),
                                '^FOR VALUES FROM \((.+)\) TO \((.+)\)$') AS bounds
           ) AS b
     WHERE i.inhparent = 'positions'::regclass
     ORDER BY b.bounds IS NULL, 3 NULLS FIRST;
$$;

COMMENT ON FUNCTION positions_partitions() IS
    'Every partition of positions (in the schema partitions) with its range [range_start, range_end); NULL for an unbounded end, and both for the default partition.';

CREATE FUNCTION positions_make_partitions(width interval, until timestamptz)
RETURNS TABLE (partition_name text, range_start timestamptz, range_end timestamptz,
               moved bigint)
LANGUAGE plpgsql
SET search_path = pg_catalog, public
SET "TimeZone" = 'UTC'
AS $$
BEGIN
    IF width IS NULL OR width NOT IN (interval '1 month', interval '7 days', interval '1 day') THEN
        RAISE EXCEPTION 'partition width must be 1 month, 7 days or 1 day, not %', width
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    PERFORM pg_advisory_xact_lock(x'646566690006'::bigint);
    SELECT max(p.range_end) INTO range_start
      FROM positions_partitions() AS p
     WHERE NOT p.is_default;
    IF range_start IS NULL THEN
        RETURN;  -- the last range partition goes up to MAXVALUE: nothing to add after it
    END IF;
    WHILE range_start <= until LOOP
        range_end := range_start + width;
        partition_name := 'positions_' || to_char(
            range_start, CASE WHEN width = interval '1 month' THEN 'YYYY_MM' ELSE 'YYYY_MM_DD' END);
        -- the range's snapshots waiting in the default partition move first:
        -- PostgreSQL refuses a partition whose rows are still in the default one
        EXECUTE format('CREATE TABLE partitions.%I '
                       '(LIKE positions INCLUDING DEFAULTS INCLUDING CONSTRAINTS)',
                       partition_name);
        EXECUTE format('WITH waiting AS (DELETE FROM partitions.positions_default '
                       'WHERE snapshot_at >= %L AND snapshot_at < %L RETURNING *) '
                       'INSERT INTO partitions.%I SELECT * FROM waiting',
                       range_start, range_end, partition_name);
        GET DIAGNOSTICS moved = ROW_COUNT;
        EXECUTE format('ALTER TABLE positions ATTACH PARTITION partitions.%I '
                       'FOR VALUES FROM (%L) TO (%L)', partition_name, range_start, range_end);
        RETURN NEXT;
        range_start := range_end;
    END LOOP;
END;
$$;

COMMENT ON FUNCTION positions_make_partitions(interval, timestamptz) IS
    'Adds partitions of positions of the given width (1 month, 7 days or 1 day of UTC), each starting where the last ended, until one covers until; moves the snapshots of each new range out of the default partition. Returns each partition made, with the snapshots it took over. Idempotent: run twice at once, the second waits (advisory lock 0x646566690006) and makes none.';

REVOKE EXECUTE ON FUNCTION positions_make_partitions(interval, timestamptz) FROM PUBLIC;
