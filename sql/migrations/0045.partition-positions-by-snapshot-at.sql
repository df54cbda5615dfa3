-- 0045.partition-positions-by-snapshot-at: positions becomes partitioned by
-- range of snapshot_at, so that history is kept in time slices: a query for a
-- time range reads only its slices, and retention drops a whole slice instead
-- of deleting rows (defi-sql maintain makes the slices ahead and retires old
-- ones).
--
-- The table of today becomes the first partition, partitions.positions_legacy,
-- holding every snapshot before the bound of 0042, which 0043 proved on every
-- row: PostgreSQL attaches it without reading it. Its indexes match the new
-- parent's (0044 built the unique one), so they are attached, not built. Every
-- statement here changes the catalog only: the ACCESS EXCLUSIVE lock is held
-- for milliseconds, whatever the size of the history. Snapshots at or after
-- the bound go to partitions.positions_default until maintain makes their
-- slice.
--
-- Partitions live in the schema partitions, reached only through positions:
-- no role has privileges on them, and row-level security, triggers and grants
-- are the parent's. They are operational state, made and dropped by maintain,
-- so the schema's fingerprint (check, drift) and sql/schema.sql describe the
-- parent and leave them out.
--
-- A partitioned table's unique indexes must contain the partition key, so
-- positions is unique on (id, snapshot_at) (positions_id_snapshot_at_key), not
-- on id; ids are random UUIDs, and the legacy partition keeps its primary key
-- on id. The parent has a unique index, not a PRIMARY KEY constraint: the
-- legacy partition's primary key on id would conflict with one.
-- depends: 0044.create-index-positions-id-snapshot-at
-- squawk-ignore-file ban-set-schema, renaming-table, ban-drop-constraint -- the old table becomes a partition under the old name's parent: clients see positions as before


CREATE SCHEMA partitions;
COMMENT ON SCHEMA partitions IS
    'The partitions of partitioned tables (positions), made and retired by defi-sql maintain; reached only through their parent.';

LOCK TABLE positions IN ACCESS EXCLUSIVE MODE;

-- The table of today, out of the way with its indexes, constraints and rows
-- (but not its sequence, which stays in public for the parent).
ALTER SEQUENCE positions_write_seq OWNED BY NONE;
ALTER TABLE positions SET SCHEMA partitions;
ALTER TABLE partitions.positions RENAME TO positions_legacy;
-- Its triggers, policy and grants become the parent's (row triggers are
-- cloned onto every partition; statement triggers fire on the parent).
DROP TRIGGER positions_latest_truncate ON partitions.positions_legacy;
DROP TRIGGER positions_latest_delete ON partitions.positions_legacy;
DROP TRIGGER positions_latest_update ON partitions.positions_legacy;
DROP TRIGGER positions_latest_insert ON partitions.positions_legacy;
DROP TRIGGER positions_set_updated_at ON partitions.positions_legacy;
DROP TRIGGER positions_normalize_wallet_address ON partitions.positions_legacy;
DROP POLICY positions_acting_user ON partitions.positions_legacy;
ALTER TABLE partitions.positions_legacy DISABLE ROW LEVEL SECURITY;
REVOKE ALL ON partitions.positions_legacy FROM defi_app, defi_worker;

-- The parent: the same columns, defaults, CHECK constraints and comments.
CREATE TABLE positions (
    LIKE partitions.positions_legacy
    INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING COMMENTS INCLUDING STORAGE
) PARTITION BY RANGE (snapshot_at);
ALTER TABLE positions DROP CONSTRAINT positions_snapshot_at_bound;  -- the legacy partition's alone
ALTER SEQUENCE positions_write_seq OWNED BY positions.write_seq;

CREATE UNIQUE INDEX positions_id_snapshot_at_key ON positions (id, snapshot_at);
CREATE INDEX positions_user_id_snapshot_at_idx ON positions (user_id, snapshot_at DESC);
CREATE INDEX positions_wallet_address_protocol_snapshot_at_idx
    ON positions (wallet_address, protocol, snapshot_at DESC);
ALTER TABLE positions ADD CONSTRAINT positions_user_id_fkey
    FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE;

CREATE TRIGGER positions_normalize_wallet_address
    BEFORE INSERT OR UPDATE OF wallet_address ON positions
    FOR EACH ROW EXECUTE FUNCTION normalize_wallet_address();
CREATE TRIGGER positions_set_updated_at
    BEFORE UPDATE ON positions
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();
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

ALTER TABLE positions ENABLE ROW LEVEL SECURITY;
CREATE POLICY positions_acting_user ON positions TO defi_app
    USING (user_id = acting_user_id())
    WITH CHECK (user_id = acting_user_id());
GRANT SELECT, INSERT, UPDATE, DELETE ON positions TO defi_app, defi_worker;

-- The first partition: everything before the bound of 0042.
DO $$
DECLARE
    bound timestamptz := (
        SELECT (regexp_match(pg_get_constraintdef(oid), '''([^'']+)'''))[1]::timestamptz
          FROM pg_constraint
         WHERE conrelid = 'partitions.positions_legacy'::regclass
           AND conname = 'positions_snapshot_at_bound');
BEGIN
    EXECUTE format(
        'ALTER TABLE positions ATTACH PARTITION partitions.positions_legacy '
        'FOR VALUES FROM (MINVALUE) TO (%L)',
        bound
    );
END
$$;
CREATE TABLE partitions.positions_default PARTITION OF positions DEFAULT;

COMMENT ON TABLE positions IS
    'Point-in-time snapshots of a user''s position in one protocol on one chain: the history, partitioned by range of snapshot_at (partitions in the schema partitions, made and retired by defi-sql maintain). The newest of each (user_id, protocol, chain_id) is also in positions_latest (0038), which the latest reads use.';
COMMENT ON INDEX positions_id_snapshot_at_key IS
    'Unique (id, snapshot_at): a partitioned table''s unique index must contain the partition key; ids are random UUIDs.';
COMMENT ON INDEX positions_user_id_snapshot_at_idx IS
    'Serves a user''s history newest first or by time range (positions_list_for_user, positions_history), positions_latest_refresh, and the user_id foreign key (ON DELETE CASCADE).';
COMMENT ON INDEX positions_wallet_address_protocol_snapshot_at_idx IS
    'Serves a wallet''s snapshots on a protocol, newest first (positions_list_for_wallet).';
COMMENT ON TRIGGER positions_normalize_wallet_address ON positions IS
    'Lower-cases wallet_address before the CHECK constraint sees it.';
COMMENT ON TRIGGER positions_set_updated_at ON positions IS
    'Keeps updated_at current on every UPDATE.';
COMMENT ON TRIGGER positions_latest_insert ON positions IS
    'Keeps positions_latest: the newest inserted snapshot of each key, if newer than the stored one.';
COMMENT ON TRIGGER positions_latest_update ON positions IS
    'Keeps positions_latest: the keys an UPDATE touched are read again.';
COMMENT ON TRIGGER positions_latest_delete ON positions IS
    'Keeps positions_latest: the keys a DELETE touched are read again.';
COMMENT ON TRIGGER positions_latest_truncate ON positions IS
    'Keeps positions_latest: empty with positions.';
COMMENT ON POLICY positions_acting_user ON positions IS
    'defi_app sees and writes only the positions of the user it acts for.';
