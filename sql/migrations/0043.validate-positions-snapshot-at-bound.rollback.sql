-- Undo 0043.validate-positions-snapshot-at-bound: the bound is NOT VALID
-- again, as 0042 left it (the same bound; PostgreSQL has no "unvalidate", so
-- it is dropped and added again, which reads no row).

DO $$
DECLARE
    definition text := (SELECT pg_get_constraintdef(oid) FROM pg_constraint
                         WHERE conrelid = 'positions'::regclass
                           AND conname = 'positions_snapshot_at_bound');
BEGIN
    ALTER TABLE positions DROP CONSTRAINT positions_snapshot_at_bound;
    EXECUTE format('ALTER TABLE positions ADD CONSTRAINT positions_snapshot_at_bound %s NOT VALID',
                   definition);
END
$$;
