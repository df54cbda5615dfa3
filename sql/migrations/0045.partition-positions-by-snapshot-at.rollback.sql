-- Undo 0045.partition-positions-by-snapshot-at: positions is one table again,
-- the legacy partition back in place with every snapshot of the others
-- (default and maintain's) copied into it, and the parent and those
-- partitions dropped. This one reads and writes rows: it holds its ACCESS
-- EXCLUSIVE lock for as long as copying the snapshots since 0045 takes. When
-- some are dated at or after the legacy bound, the bound is moved past the
-- newest (a CHECK validated under the lock).
-- squawk-ignore-file ban-drop-table, ban-drop-schema, ban-set-schema, renaming-table, require-concurrent-partition-detach -- the parent and partitions made by 0045 and maintain go, every row copied first, under the lock the copy needs anyway

LOCK TABLE positions IN ACCESS EXCLUSIVE MODE;

ALTER TABLE positions DETACH PARTITION partitions.positions_legacy;
ALTER SEQUENCE positions_write_seq OWNED BY NONE;  -- not dropped with the parent

DO $$
DECLARE
    newest timestamptz := (SELECT max(snapshot_at) FROM positions);
    bound timestamptz := (
        SELECT (regexp_match(pg_get_constraintdef(oid), '''([^'']+)'''))[1]::timestamptz
          FROM pg_constraint
         WHERE conrelid = 'partitions.positions_legacy'::regclass
           AND conname = 'positions_snapshot_at_bound');
BEGIN
    IF newest >= bound THEN
        ALTER TABLE partitions.positions_legacy DROP CONSTRAINT positions_snapshot_at_bound;
        EXECUTE format(
            'ALTER TABLE partitions.positions_legacy ADD CONSTRAINT positions_snapshot_at_bound '
            'CHECK (snapshot_at < %L::timestamptz)',
            (date_trunc('month', newest AT TIME ZONE 'UTC') + interval '1 month') AT TIME ZONE 'UTC'
        );
    END IF;
END
$$;

-- no trigger on it now: the rows keep their write_seq, and positions_latest has them already
INSERT INTO partitions.positions_legacy SELECT * FROM positions;
DROP TABLE positions;
ALTER TABLE partitions.positions_legacy SET SCHEMA public;
ALTER TABLE positions_legacy RENAME TO positions;
DROP SCHEMA partitions;  -- RESTRICT: refused if anything else was put in it
ALTER SEQUENCE positions_write_seq OWNED BY positions.write_seq;

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
