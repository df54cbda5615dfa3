-- defi-sql's own migration bookkeeping, kept beside yoyo's `_yoyo_migration`:
-- yoyo records which migrations are applied; this table adds the batch each
-- one was applied in and a checksum of the file's content at that time.

-- name: create_bookkeeping#
-- Create the bookkeeping table if it does not exist yet.
CREATE TABLE IF NOT EXISTS _defi_sql_migration (
    seq          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    migration_id text NOT NULL UNIQUE,
    batch        integer NOT NULL CHECK (batch >= 1),
    checksum     text NOT NULL,
    applied_at   timestamptz NOT NULL DEFAULT now(),
    applied_by   text NOT NULL DEFAULT current_user
);

-- name: list_applied()
-- Every migration recorded by defi-sql, in the order it was applied.
SELECT migration_id, batch, checksum, applied_at
  FROM _defi_sql_migration
 ORDER BY seq;

-- name: record_applied(migration_id, batch, checksum)!
-- Record one applied migration (runs in the migration's own transaction).
INSERT INTO _defi_sql_migration (migration_id, batch, checksum)
VALUES (:migration_id, :batch, :checksum);

-- name: forget_applied(migration_id)!
-- Forget a migration that was rolled back (in the rollback's transaction).
DELETE FROM _defi_sql_migration
 WHERE migration_id = :migration_id;

-- name: accept_checksum(migration_id, checksum)!
-- Accept the current content of an edited, applied migration (`defi-sql repair`).
UPDATE _defi_sql_migration
   SET checksum = :checksum
 WHERE migration_id = :migration_id;

-- name: next_batch()$
-- The number the next `migrate` batch gets.
SELECT coalesce(max(batch), 0) + 1 FROM _defi_sql_migration;

-- name: try_lock(key)$
-- Take the session-level migration lock without waiting; it dies with the session.
SELECT pg_try_advisory_lock(:key);

-- name: unlock(key)$
-- Release the migration lock.
SELECT pg_advisory_unlock(:key);

-- name: lock_holder(key)$
-- The backend pid holding the migration lock, if any.
SELECT l.pid
  FROM pg_locks AS l
 WHERE l.locktype = 'advisory'
   AND l.granted
   AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
   AND ((l.classid::bigint << 32) | l.objid::bigint) = :key
 LIMIT 1;

-- name: drop_schema_objects#
-- `defi-sql fresh`: drop every object in the current schema (tables, views,
-- sequences, functions, types, bookkeeping included), leaving the schema itself
-- and its privileges alone. Objects that belong to an extension are skipped.
DO $$
DECLARE
    target text := current_schema();
    obj record;
BEGIN
    FOR obj IN
        SELECT c.relname, c.relkind
          FROM pg_class AS c
         WHERE c.relnamespace = target::regnamespace
           AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
           AND NOT EXISTS (SELECT 1 FROM pg_depend AS d
                            WHERE d.objid = c.oid AND d.deptype = 'e')
    LOOP
        EXECUTE format(
            CASE obj.relkind
                WHEN 'v' THEN 'DROP VIEW IF EXISTS %I.%I CASCADE'
                WHEN 'm' THEN 'DROP MATERIALIZED VIEW IF EXISTS %I.%I CASCADE'
                WHEN 'f' THEN 'DROP FOREIGN TABLE IF EXISTS %I.%I CASCADE'
                ELSE 'DROP TABLE IF EXISTS %I.%I CASCADE'
            END, target, obj.relname);
    END LOOP;
    FOR obj IN
        SELECT c.relname
          FROM pg_class AS c
         WHERE c.relnamespace = target::regnamespace AND c.relkind = 'S'
           AND NOT EXISTS (SELECT 1 FROM pg_depend AS d
                            WHERE d.objid = c.oid AND d.deptype IN ('e', 'a', 'i'))
    LOOP
        EXECUTE format('DROP SEQUENCE IF EXISTS %I.%I CASCADE', target, obj.relname);
    END LOOP;
    FOR obj IN
        SELECT p.oid, p.prokind
          FROM pg_proc AS p
         WHERE p.pronamespace = target::regnamespace
           AND NOT EXISTS (SELECT 1 FROM pg_depend AS d
                            WHERE d.objid = p.oid AND d.deptype = 'e')
    LOOP
        -- an earlier DROP ... CASCADE may have taken this one with it (a function
        -- whose body calls another, or an operator's function)
        CONTINUE WHEN NOT EXISTS (SELECT 1 FROM pg_proc WHERE oid = obj.oid);
        EXECUTE format(
            CASE obj.prokind
                WHEN 'p' THEN 'DROP PROCEDURE IF EXISTS %s CASCADE'
                WHEN 'a' THEN 'DROP AGGREGATE IF EXISTS %s CASCADE'
                ELSE 'DROP FUNCTION IF EXISTS %s CASCADE'
            END, obj.oid::regprocedure);
    END LOOP;
    FOR obj IN
        SELECT t.typname, t.typtype
          FROM pg_type AS t
         WHERE t.typnamespace = target::regnamespace
           AND t.typtype IN ('e', 'd', 'c', 'r', 'm')
           AND (t.typtype <> 'c' OR (SELECT c.relkind FROM pg_class AS c
                                      WHERE c.oid = t.typrelid) = 'c')
           AND NOT EXISTS (SELECT 1 FROM pg_depend AS d
                            WHERE d.objid = t.oid AND d.deptype IN ('e', 'i'))
    LOOP
        EXECUTE format(
            CASE obj.typtype
                WHEN 'd' THEN 'DROP DOMAIN IF EXISTS %I.%I CASCADE'
                ELSE 'DROP TYPE IF EXISTS %I.%I CASCADE'
            END, target, obj.typname);
    END LOOP;
END
$$;
