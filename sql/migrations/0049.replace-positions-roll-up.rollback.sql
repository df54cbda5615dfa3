-- Undo 0049.replace-positions-roll-up: the roll-up as 0047 made it.

CREATE OR REPLACE FUNCTION positions_roll_up(range_start timestamptz, range_end timestamptz,
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

