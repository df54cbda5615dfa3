-- "The latest snapshot" of a (user, protocol, chain) must name one row, the
-- same in every query: the newest snapshot_at, and among snapshots with that
-- very snapshot_at (two reads of one block, or an ingest without snapshot_at)
-- the one written last. Neither created_at (one value per transaction) nor the
-- random uuid id says which was written last; write_seq does: a number from a
-- sequence, taken by every insert in the order rows are written (COPY rows
-- included), whoever writes them.
-- depends: 0022.drop-index-alerts-signal-user-type

-- The column is added without a default and the default set afterwards, so
-- the table is not rewritten: rows written before this migration keep NULL,
-- and sort below every numbered one of the same snapshot_at (NULLS LAST), then
-- by id, which is at least deterministic.
CREATE SEQUENCE positions_write_seq AS bigint;

ALTER TABLE positions ADD COLUMN write_seq bigint;

ALTER SEQUENCE positions_write_seq OWNED BY positions.write_seq;

ALTER TABLE positions ALTER COLUMN write_seq SET DEFAULT nextval('positions_write_seq');

GRANT USAGE ON SEQUENCE positions_write_seq TO defi_app, defi_worker;

COMMENT ON COLUMN positions.write_seq IS
    'Order in which snapshots were written (from sequence positions_write_seq): breaks ties of snapshot_at, the last written wins. NULL for rows written before migration 0023.';
