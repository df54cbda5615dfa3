-- 0053.set-constraint-exclusion-off: every plan of a query on positions that
-- is made for its parameters (a custom plan) re-reads and tries every CHECK
-- constraint of every partition it keeps (constraint_exclusion = partition,
-- the default, meant for inheritance-based partitioning). positions has nine
-- CHECKs and eleven NOT NULLs, copied onto each partition; declarative
-- partitions are pruned by their bounds, so the work finds nothing. Measured
-- here (PostgreSQL 18, warm session), planning positions_list_for_wallet:
-- 0.34-0.38 ms against 0.10-0.14 ms with 2 partitions, 3.8-5.4 ms against
-- 0.46-0.80 ms with 15 (a year of months and three ahead). Set for this
-- database, so every client's new sessions have it (the TypeScript app's and
-- psql's too); a session or role may still SET it back. A database copied
-- with CREATE DATABASE ... TEMPLATE does not inherit it.
-- depends: 0052.comment-indexes-user-id-id

DO $$
BEGIN
    IF NOT EXISTS (
        SELECT FROM pg_db_role_setting AS s
          JOIN pg_database AS d ON d.oid = s.setdatabase
         WHERE d.datname = current_database()
           AND s.setrole = 0
           AND 'constraint_exclusion=off' = ANY (s.setconfig)
    ) THEN
        EXECUTE format('ALTER DATABASE %I SET constraint_exclusion = off', current_database());
    END IF;
EXCEPTION WHEN insufficient_privilege THEN
    RAISE EXCEPTION 'the migrating role may not change the settings of database %: have its '
                    'owner run ALTER DATABASE % SET constraint_exclusion = off; then migrate '
                    'again', current_database(), quote_ident(current_database());
END
$$;
