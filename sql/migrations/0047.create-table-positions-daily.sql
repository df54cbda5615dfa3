-- 0047.create-table-positions-daily: retention drops whole partitions of
-- positions once they are older than the retention setting; before a
-- partition goes, its snapshots are rolled up into one row per (user,
-- protocol, chain, UTC day) here, so that history beyond retention is still
-- answered, by the day: first, last and lowest health factor, and the last
-- collateral and debt value in USD (the sum of the assets' valueUSD).
-- "First" and "last" follow the rule of sql/queries/positions.sql: by
-- snapshot_at, then write_seq (NULLS first), then id.
--   positions_roll_up(range_start, range_end, source)
--                          rolls up the snapshots of [range_start, range_end)
--                          (NULL: unbounded) of positions, or of a detached
--                          partition, replacing the days it covers: run
--                          twice, it writes the same rows;
--   positions_detach_partition(name)
--                          detaches one partition and reads the latest
--                          snapshots it held again (positions_latest): the
--                          only step under an ACCESS EXCLUSIVE lock, and a
--                          short one (no row is read but the read model's);
--   positions_drop_detached(name)
--                          rolls up a detached partition, which no writer
--                          reaches any more, and drops it;
--   positions_detached()   the detached partitions waiting for that (a run
--                          that stopped between the two steps left them).
-- Retention (defi_sql maintenance.retire) rolls a partition up while writers
-- go on, detaches it, then rolls it up again from the detached table (a
-- snapshot written late into its range in between is counted) and drops it.
-- Partitions are whole UTC days, so a day is never split between two.
-- depends: 0046.create-function-positions-make-partitions

CREATE TABLE positions_daily (
    user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    protocol text NOT NULL,
    chain_id bigint NOT NULL,
    day date NOT NULL,
    snapshots bigint NOT NULL CHECK (snapshots > 0),
    first_health_factor numeric,
    last_health_factor numeric,
    min_health_factor numeric,
    last_collateral_usd numeric NOT NULL,
    last_debt_usd numeric NOT NULL,
    first_snapshot_at timestamptz NOT NULL,
    last_snapshot_at timestamptz NOT NULL,
    CONSTRAINT positions_daily_pkey PRIMARY KEY (user_id, protocol, chain_id, day)
);

COMMENT ON TABLE positions_daily IS
    'Daily rollups of the snapshots retention removed from positions: one row per (user_id, protocol, chain_id, UTC day). Written by positions_roll_up; read by positions_history_daily.';
COMMENT ON COLUMN positions_daily.day IS 'The UTC day the snapshots were taken on.';
COMMENT ON COLUMN positions_daily.first_health_factor IS
    'health_factor of the day''s first snapshot (NULL: no debt), by snapshot_at, then write_seq, then id.';
COMMENT ON COLUMN positions_daily.last_health_factor IS 'health_factor of the day''s last snapshot.';
COMMENT ON COLUMN positions_daily.min_health_factor IS
    'The lowest health_factor of the day (NULL when no snapshot of it had debt).';
COMMENT ON COLUMN positions_daily.last_collateral_usd IS
    'The sum of valueUSD over the collateral of the day''s last snapshot.';
COMMENT ON COLUMN positions_daily.last_debt_usd IS
    'The sum of valueUSD over the debt of the day''s last snapshot.';

ALTER TABLE positions_daily ENABLE ROW LEVEL SECURITY;
CREATE POLICY positions_daily_acting_user ON positions_daily TO defi_app
    USING (user_id = acting_user_id());
COMMENT ON POLICY positions_daily_acting_user ON positions_daily IS
    'defi_app sees only the daily history of the user it acts for.';
GRANT SELECT ON positions_daily TO defi_app, defi_worker;

CREATE FUNCTION positions_usd(assets jsonb)
RETURNS numeric
LANGUAGE sql
IMMUTABLE PARALLEL SAFE
RETURN (SELECT coalesce(sum(json_decimal(asset -> 'valueUSD')), 0)
          FROM jsonb_array_elements(CASE jsonb_typeof(assets) WHEN 'array' THEN assets
                                                              ELSE '[]' END) AS asset);

COMMENT ON FUNCTION positions_usd(jsonb) IS
    'The sum of valueUSD (json_decimal) over a list of assets (positions.collateral or debt); 0 for an empty or malformed list.';

CREATE FUNCTION positions_roll_up(range_start timestamptz, range_end timestamptz,
                                  source regclass DEFAULT 'positions')
RETURNS bigint
LANGUAGE plpgsql
SET search_path = pg_catalog, public
AS $$
DECLARE
    days bigint;
BEGIN
    EXECUTE format($sql$
        INSERT INTO positions_daily AS d
               (user_id, protocol, chain_id, day, snapshots, first_health_factor,
                last_health_factor, min_health_factor, last_collateral_usd, last_debt_usd,
                first_snapshot_at, last_snapshot_at)
        SELECT user_id, protocol, chain_id, (snapshot_at AT TIME ZONE 'UTC')::date, count(*),
               (array_agg(health_factor ORDER BY snapshot_at, write_seq NULLS FIRST, id))[1],
               (array_agg(health_factor
                          ORDER BY snapshot_at DESC, write_seq DESC NULLS LAST, id DESC))[1],
               min(health_factor),
               (array_agg(positions_usd(collateral)
                          ORDER BY snapshot_at DESC, write_seq DESC NULLS LAST, id DESC))[1],
               (array_agg(positions_usd(debt)
                          ORDER BY snapshot_at DESC, write_seq DESC NULLS LAST, id DESC))[1],
               min(snapshot_at), max(snapshot_at)
          FROM %s
         WHERE snapshot_at >= %L AND snapshot_at < %L
         GROUP BY 1, 2, 3, 4
            ON CONFLICT (user_id, protocol, chain_id, day) DO UPDATE
           SET snapshots = excluded.snapshots,
               first_health_factor = excluded.first_health_factor,
               last_health_factor = excluded.last_health_factor,
               min_health_factor = excluded.min_health_factor,
               last_collateral_usd = excluded.last_collateral_usd,
               last_debt_usd = excluded.last_debt_usd,
               first_snapshot_at = excluded.first_snapshot_at,
               last_snapshot_at = excluded.last_snapshot_at
        $sql$, source, coalesce(range_start, '-infinity'), coalesce(range_end, 'infinity'));
    GET DIAGNOSTICS days = ROW_COUNT;
    RETURN days;
END;
$$;

COMMENT ON FUNCTION positions_roll_up(timestamptz, timestamptz, regclass) IS
    'Rolls up the snapshots of [range_start, range_end) (NULL: unbounded) of source (positions, or a detached partition of it) into positions_daily, replacing the days it covers; returns how many (user, protocol, chain, day) rows it wrote.';

CREATE FUNCTION positions_detach_partition(name text)
RETURNS TABLE (partition_name text, range_start timestamptz, range_end timestamptz)
LANGUAGE plpgsql
SET search_path = pg_catalog, public
AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(x'646566690006'::bigint);
    SELECT p.range_start, p.range_end INTO range_start, range_end
      FROM positions_partitions() AS p
     WHERE p.partition_name = name AND NOT p.is_default;
    IF NOT FOUND THEN
        RETURN;  -- detached already (or never there)
    END IF;
    IF range_end IS NULL THEN
        RAISE EXCEPTION 'partition % has no end: retention never drops it', name
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    partition_name := name;
    EXECUTE format('ALTER TABLE positions DETACH PARTITION partitions.%I', name);
    -- the latest snapshots it held: read again from what is left
    PERFORM positions_latest_refresh(array_agg(l.user_id), array_agg(l.protocol),
                                     array_agg(l.chain_id))
       FROM positions_latest AS l
      WHERE l.snapshot_at >= coalesce(range_start, '-infinity')
        AND l.snapshot_at < range_end;
    RETURN NEXT;
END;
$$;

COMMENT ON FUNCTION positions_detach_partition(text) IS
    'Retention, second step: detaches a partition of positions and reads the latest snapshots it held again from the rest (positions_latest_refresh). Nothing when it is detached already. Under the maintenance lock (advisory 0x646566690006).';

CREATE FUNCTION positions_detached()
RETURNS SETOF text
LANGUAGE sql
STABLE
SET search_path = pg_catalog, public
AS $$
    SELECT c.relname::text
      FROM pg_class AS c
     WHERE c.relnamespace = 'partitions'::regnamespace
       AND c.relkind = 'r'
       AND starts_with(c.relname, 'positions_')
       AND NOT c.relispartition
     ORDER BY 1;
$$;

COMMENT ON FUNCTION positions_detached() IS
    'The tables of the schema partitions named positions_* that are no partition of positions: detached by retention, waiting for positions_drop_detached.';

CREATE FUNCTION positions_drop_detached(name text)
RETURNS TABLE (partition_name text, snapshots bigint, days bigint)
LANGUAGE plpgsql
SET search_path = pg_catalog, public
AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(x'646566690006'::bigint);
    IF name NOT IN (SELECT positions_detached()) THEN
        RETURN;  -- dropped already, or still a partition
    END IF;
    partition_name := name;
    EXECUTE format('SELECT count(*) FROM partitions.%I', name) INTO snapshots;
    days := positions_roll_up(NULL, NULL, format('partitions.%I', name)::regclass);
    EXECUTE format('DROP TABLE partitions.%I', name);
    RETURN NEXT;
END;
$$;

COMMENT ON FUNCTION positions_drop_detached(text) IS
    'Retention, last step: rolls up every snapshot of a detached partition (no writer reaches it any more) and drops it. Returns it, its snapshots and the days written; nothing when it is gone already.';

REVOKE EXECUTE ON FUNCTION positions_roll_up(timestamptz, timestamptz, regclass),
    positions_detach_partition(text), positions_drop_detached(text) FROM PUBLIC;
