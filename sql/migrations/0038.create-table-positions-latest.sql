-- 0038.create-table-positions-latest: the every-tick questions (who is below
-- their threshold, which intents are due) and the latest-snapshot reads looked
-- for each user's newest snapshots in all of their history: one index probe
-- per user per tick, 1.2 s at 20,000 users. positions_latest holds the newest
-- snapshot of each (user, protocol, chain), kept by the database in the same
-- transaction as the write, so those reads scan the latest rows and nothing
-- else.
--
-- "Newest" is the rule of sql/queries/positions.sql: the newest snapshot_at,
-- then the last written (write_seq DESC NULLS LAST), then id DESC. Kept by
-- statement-level triggers with transition tables, so a COPY of a million
-- snapshots makes one set-based upsert, not a million:
--   INSERT    the newest inserted row of each key replaces the stored one
--             only if it is newer: a snapshot arriving late never wins;
--   UPDATE,   the keys touched are read again from positions (their newest
--   DELETE    row may be another one now, or none);
--   TRUNCATE  empties it.
-- Deleting a user removes theirs (ON DELETE CASCADE). The functions are
-- SECURITY DEFINER: defi_app and defi_worker only read positions_latest, and
-- defi_app only the rows of the user it acts for, as in positions (0015).
--
-- The triggers are created here and the existing snapshots copied in 0039, in
-- a transaction of its own: creating a trigger locks out writers only until
-- this migration commits, while the copy reads positions as writers go on,
-- and the triggers already keep what they write.
-- depends: 0037.comment-indexes-after-query-renames

CREATE TABLE positions_latest (
    user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- NULL only if a DBA dropped NOT NULL from positions: kept, so that reading
    -- that snapshot fails for its row alone (UnreadableRow), as it does in positions
    protocol text,
    chain_id bigint,
    id uuid NOT NULL,
    wallet_address text NOT NULL,
    health_factor numeric,
    collateral jsonb NOT NULL,
    debt jsonb NOT NULL,
    metadata jsonb NOT NULL,
    snapshot_at timestamptz NOT NULL,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    write_seq bigint,
    CONSTRAINT positions_latest_key UNIQUE NULLS NOT DISTINCT (user_id, protocol, chain_id)
);

COMMENT ON TABLE positions_latest IS
    'Read model: the newest snapshot of each (user_id, protocol, chain_id) of positions (newest snapshot_at, then write_seq DESC NULLS LAST, then id DESC), kept by the triggers positions_latest_* on positions in the writing transaction. Read by the every-tick queries; never written directly.';
COMMENT ON COLUMN positions_latest.id IS 'positions.id of the snapshot this row copies.';
COMMENT ON COLUMN positions_latest.collateral IS 'positions.collateral of that snapshot.';
COMMENT ON COLUMN positions_latest.debt IS 'positions.debt of that snapshot.';
COMMENT ON COLUMN positions_latest.metadata IS 'positions.metadata of that snapshot.';

ALTER TABLE positions_latest ENABLE ROW LEVEL SECURITY;
CREATE POLICY positions_latest_acting_user ON positions_latest TO defi_app
    USING (user_id = acting_user_id());
COMMENT ON POLICY positions_latest_acting_user ON positions_latest IS
    'defi_app sees only the latest positions of the user it acts for.';

GRANT SELECT ON positions_latest TO defi_app, defi_worker;

CREATE FUNCTION positions_latest_insert()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, public
AS $$
BEGIN
    -- in key order, so that two writers of the same keys lock them in one order
    INSERT INTO positions_latest AS l
           (user_id, protocol, chain_id, id, wallet_address, health_factor, collateral,
            debt, metadata, snapshot_at, created_at, updated_at, write_seq)
    SELECT DISTINCT ON (user_id, protocol, chain_id)
           user_id, protocol, chain_id, id, wallet_address, health_factor, collateral,
           debt, metadata, snapshot_at, created_at, updated_at, write_seq
      FROM inserted
     ORDER BY user_id, protocol, chain_id, snapshot_at DESC, write_seq DESC NULLS LAST, id DESC
        ON CONFLICT (user_id, protocol, chain_id) DO UPDATE
       SET id = excluded.id, wallet_address = excluded.wallet_address,
           health_factor = excluded.health_factor, collateral = excluded.collateral,
           debt = excluded.debt, metadata = excluded.metadata,
           snapshot_at = excluded.snapshot_at, created_at = excluded.created_at,
           updated_at = excluded.updated_at, write_seq = excluded.write_seq
     WHERE (excluded.snapshot_at, excluded.write_seq IS NOT NULL,
            coalesce(excluded.write_seq, 0), excluded.id)
         > (l.snapshot_at, l.write_seq IS NOT NULL, coalesce(l.write_seq, 0), l.id);
    RETURN NULL;
END;
$$;

COMMENT ON FUNCTION positions_latest_insert() IS
    'Trigger function (AFTER INSERT ... FOR EACH STATEMENT, transition table inserted): upserts the newest inserted snapshot of each key into positions_latest, replacing the stored one only if newer.';

CREATE FUNCTION positions_latest_refresh(user_ids uuid[], protocols text[], chain_ids bigint[])
RETURNS void
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, public
AS $$
BEGIN
    DELETE FROM positions_latest AS l
     USING unnest(user_ids, protocols, chain_ids) AS k (user_id, protocol, chain_id)
     WHERE l.user_id = k.user_id
       AND l.protocol IS NOT DISTINCT FROM k.protocol
       AND l.chain_id IS NOT DISTINCT FROM k.chain_id;
    INSERT INTO positions_latest AS l
           (user_id, protocol, chain_id, id, wallet_address, health_factor, collateral,
            debt, metadata, snapshot_at, created_at, updated_at, write_seq)
    SELECT p.user_id, p.protocol, p.chain_id, p.id, p.wallet_address, p.health_factor,
           p.collateral, p.debt, p.metadata, p.snapshot_at, p.created_at, p.updated_at,
           p.write_seq
      FROM (SELECT DISTINCT * FROM unnest(user_ids, protocols, chain_ids)) AS k (user_id, protocol, chain_id)
     CROSS JOIN LATERAL (
            SELECT *
              FROM positions
             WHERE positions.user_id = k.user_id
               AND positions.protocol IS NOT DISTINCT FROM k.protocol
               AND positions.chain_id IS NOT DISTINCT FROM k.chain_id
             ORDER BY snapshot_at DESC, write_seq DESC NULLS LAST, id DESC
             LIMIT 1
           ) AS p
     ORDER BY p.user_id, p.protocol, p.chain_id
        ON CONFLICT (user_id, protocol, chain_id) DO UPDATE
       SET id = excluded.id, wallet_address = excluded.wallet_address,
           health_factor = excluded.health_factor, collateral = excluded.collateral,
           debt = excluded.debt, metadata = excluded.metadata,
           snapshot_at = excluded.snapshot_at, created_at = excluded.created_at,
           updated_at = excluded.updated_at, write_seq = excluded.write_seq
     WHERE (excluded.snapshot_at, excluded.write_seq IS NOT NULL,
            coalesce(excluded.write_seq, 0), excluded.id)
         > (l.snapshot_at, l.write_seq IS NOT NULL, coalesce(l.write_seq, 0), l.id);
END;
$$;

COMMENT ON FUNCTION positions_latest_refresh(uuid[], text[], bigint[]) IS
    'Reads the newest snapshot of each given (user_id, protocol, chain_id) again from positions into positions_latest, and removes the keys that have none left. For the UPDATE and DELETE triggers, and for maintenance that removes snapshots without DELETE (dropping a partition).';

CREATE FUNCTION positions_latest_update()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, public
AS $$
BEGIN
    PERFORM positions_latest_refresh(array_agg(user_id), array_agg(protocol), array_agg(chain_id))
       FROM (SELECT user_id, protocol, chain_id FROM old_rows
             UNION
             SELECT user_id, protocol, chain_id FROM new_rows) AS touched;
    RETURN NULL;
END;
$$;

COMMENT ON FUNCTION positions_latest_update() IS
    'Trigger function (AFTER UPDATE ... FOR EACH STATEMENT, transition tables old_rows and new_rows): refreshes every key the statement touched, before and after.';

CREATE FUNCTION positions_latest_delete()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, public
AS $$
BEGIN
    PERFORM positions_latest_refresh(array_agg(user_id), array_agg(protocol), array_agg(chain_id))
       FROM (SELECT DISTINCT user_id, protocol, chain_id FROM old_rows) AS touched;
    RETURN NULL;
END;
$$;

COMMENT ON FUNCTION positions_latest_delete() IS
    'Trigger function (AFTER DELETE ... FOR EACH STATEMENT, transition table old_rows): refreshes every key the statement touched.';

CREATE FUNCTION positions_latest_truncate()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, public
AS $$
BEGIN
    -- DELETE, not TRUNCATE: a TRUNCATE users CASCADE has positions_latest open
    -- already (and empties it itself), and refuses a TRUNCATE of it from here
    DELETE FROM positions_latest;
    RETURN NULL;
END;
$$;

COMMENT ON FUNCTION positions_latest_truncate() IS
    'Trigger function (AFTER TRUNCATE): empties positions_latest with positions (by DELETE: a TRUNCATE ... CASCADE may be emptying it already).';

REVOKE EXECUTE ON FUNCTION positions_latest_insert(), positions_latest_update(),
    positions_latest_delete(), positions_latest_truncate(),
    positions_latest_refresh(uuid[], text[], bigint[]) FROM PUBLIC;

CREATE TRIGGER positions_latest_insert
    AFTER INSERT ON positions
    REFERENCING NEW TABLE AS inserted
    FOR EACH STATEMENT EXECUTE FUNCTION positions_latest_insert();
CREATE TRIGGER positions_latest_update
    AFTER UPDATE ON positions
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION positions_latest_update();
CREATE TRIGGER positions_latest_delete
    AFTER DELETE ON positions
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION positions_latest_delete();
CREATE TRIGGER positions_latest_truncate
    AFTER TRUNCATE ON positions
    FOR EACH STATEMENT EXECUTE FUNCTION positions_latest_truncate();

COMMENT ON TRIGGER positions_latest_insert ON positions IS
    'Keeps positions_latest: the newest inserted snapshot of each key, if newer than the stored one.';
COMMENT ON TRIGGER positions_latest_update ON positions IS
    'Keeps positions_latest: the keys an UPDATE touched are read again.';
COMMENT ON TRIGGER positions_latest_delete ON positions IS
    'Keeps positions_latest: the keys a DELETE touched are read again.';
COMMENT ON TRIGGER positions_latest_truncate ON positions IS
    'Keeps positions_latest: empty with positions.';
