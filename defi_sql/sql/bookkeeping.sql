-- defi-sql's own migration bookkeeping, kept beside yoyo's `_yoyo_migration`:
-- yoyo records which migrations are applied (and stays the truth of it, so
-- that `yoyo apply` and `yoyo rollback` are seen); these tables add the batch
-- each one was applied in, a checksum of the file's content at that time, and
-- the schemas and extensions a migration created (for `fresh`).
--
-- Every query here names its tables unqualified: the migrator runs them with
-- its own search_path (a migration's `SET search_path` is undone before, or
-- overridden with `pin_session` inside the migration's transaction).

-- name: create_bookkeeping#
-- Create the bookkeeping tables if they do not exist yet.
CREATE TABLE IF NOT EXISTS _defi_sql_migration (
    seq          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    migration_id text NOT NULL UNIQUE,
    batch        integer NOT NULL CHECK (batch >= 1),
    checksum     text NOT NULL,
    applied_at   timestamptz NOT NULL DEFAULT now(),
    applied_by   text NOT NULL DEFAULT current_user
);
CREATE TABLE IF NOT EXISTS _defi_sql_created (
    kind         text NOT NULL CHECK (kind IN ('schema', 'extension')),
    name         text NOT NULL,
    migration_id text NOT NULL,
    PRIMARY KEY (kind, name)
);

-- name: bookkeeping_tables()^
-- Which bookkeeping tables exist (read-only commands create none).
SELECT to_regclass('_yoyo_migration') IS NOT NULL AS yoyo,
       to_regclass('_defi_sql_migration') IS NOT NULL AS ours,
       to_regclass('_defi_sql_created') IS NOT NULL AS created;

-- name: session_identity()^
-- The schema the migrator keeps its bookkeeping in, and its search_path.
SELECT current_schema() AS schema, current_setting('search_path') AS search_path;

-- name: reset_session#
-- Back to the migrator's own session settings, before and after each migration:
-- a migration's SET (search_path, lock_timeout, statement_timeout, role, ...),
-- temporary tables and cursors do not reach the next one. Advisory locks stay.
SET SESSION AUTHORIZATION DEFAULT;
RESET ROLE;
RESET ALL;
CLOSE ALL;
UNLISTEN *;
DISCARD TEMP;
DISCARD SEQUENCES;

-- name: pin_session(search_path, lock_timeout)^
-- Inside a migration's transaction, just before its bookkeeping: the migrator's
-- own search_path, role and timeouts again, for the rest of that transaction.
SELECT set_config('search_path', :search_path, true),
       set_config('role', 'none', true),
       set_config('lock_timeout', :lock_timeout, true),
       set_config('statement_timeout', '0', true);

-- name: transaction_id()$
-- The id of the current transaction (assigned now if it has none yet).
SELECT pg_current_xact_id()::text;

-- name: list_applied()
-- Every applied migration, oldest first: yoyo's table says which (whoever applied
-- it), ours adds batch and checksum (NULL for one applied outside defi-sql).
SELECT y.migration_id, d.batch, d.checksum,
       coalesce(d.applied_at, y.applied_at_utc AT TIME ZONE 'UTC') AS applied_at
  FROM _yoyo_migration AS y
  LEFT JOIN _defi_sql_migration AS d ON d.migration_id = y.migration_id
 ORDER BY y.applied_at_utc, d.seq, y.migration_id;

-- name: list_applied_by_yoyo()
-- The same while _defi_sql_migration does not exist (yoyo alone applied them).
SELECT y.migration_id, NULL::integer AS batch, NULL::text AS checksum,
       y.applied_at_utc AT TIME ZONE 'UTC' AS applied_at
  FROM _yoyo_migration AS y
 ORDER BY y.applied_at_utc, y.migration_id;

-- name: count_recorded()$
-- How many migrations defi-sql recorded (to notice yoyo's table dropped by hand).
SELECT count(*) FROM _defi_sql_migration;

-- name: mark_applied(migration_hash, migration_id)!
-- yoyo's record of an applied migration (in the migration's own transaction).
INSERT INTO _yoyo_migration (migration_hash, migration_id, applied_at_utc)
VALUES (:migration_hash, :migration_id, clock_timestamp() AT TIME ZONE 'UTC');

-- name: unmark_applied(migration_hash)!
-- Forget yoyo's record of a migration that was rolled back.
DELETE FROM _yoyo_migration
 WHERE migration_hash = :migration_hash;

-- name: log_operation(id, migration_hash, migration_id, operation, username, hostname)!
-- A line of yoyo's log, as yoyo writes it.
INSERT INTO _yoyo_log (id, migration_hash, migration_id, operation, username, hostname,
                       created_at_utc)
VALUES (:id, :migration_hash, :migration_id, :operation, :username, :hostname,
        clock_timestamp() AT TIME ZONE 'UTC');

-- name: record_applied(migration_id, batch, checksum)!
-- Record one applied migration (runs in the migration's own transaction).
INSERT INTO _defi_sql_migration (migration_id, batch, checksum)
VALUES (:migration_id, :batch, :checksum);

-- name: forget_applied(migration_id)!
-- Forget a migration that was rolled back (in the rollback's transaction), or the
-- stale record of one that `yoyo rollback` undid.
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

-- name: schemas_and_extensions()
-- Every schema and extension of the database, to see which a migration creates.
SELECT 'schema' AS kind, nspname::text AS name FROM pg_namespace
UNION ALL
SELECT 'extension', extname::text FROM pg_extension;

-- name: record_created(migration_id, kind, name)!
-- A schema or extension the migration created (in its transaction).
INSERT INTO _defi_sql_created (kind, name, migration_id)
VALUES (:kind, :name, :migration_id)
ON CONFLICT (kind, name) DO UPDATE SET migration_id = excluded.migration_id;

-- name: forget_created(migration_id)!
-- Forget what a rolled-back migration created.
DELETE FROM _defi_sql_created
 WHERE migration_id = :migration_id;

-- name: invalid_indexes()
-- Every INVALID index (a failed CREATE INDEX CONCURRENTLY, an interrupted DROP
-- INDEX CONCURRENTLY or REINDEX CONCURRENTLY), schema-qualified.
SELECT quote_ident(n.nspname) || '.' || quote_ident(c.relname) AS qualified,
       c.relname::text AS name,
       t.relname::text AS table_name
  FROM pg_index AS i
  JOIN pg_class AS c ON c.oid = i.indexrelid
  JOIN pg_class AS t ON t.oid = i.indrelid
  JOIN pg_namespace AS n ON n.oid = c.relnamespace
 WHERE NOT i.indisvalid
 ORDER BY 1;

-- name: try_lock(key)$
-- Take the session-level migration lock without waiting; it dies with the session.
SELECT pg_try_advisory_lock(:key);

-- name: lock_holder(key)$
-- The backend pid holding the migration lock, if any.
SELECT l.pid
  FROM pg_locks AS l
 WHERE l.locktype = 'advisory'
   AND l.granted
   AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
   AND ((l.classid::bigint << 32) | l.objid::bigint) = :key
 LIMIT 1;

-- name: foreign_dependents()
-- `defi-sql fresh`: objects it would not drop that depend on objects it would (a
-- view or a foreign key in another schema on a table of this one): DROP ...
-- CASCADE would take them along, so fresh refuses while there are any. Fresh
-- drops the objects of the current schema, and the schemas and extensions the
-- migrations created.
WITH doomed AS (
    SELECT current_schema()::regnamespace::oid AS nsp
    UNION
    SELECT n.oid
      FROM _defi_sql_created AS c
      JOIN pg_namespace AS n ON n.nspname = c.name
     WHERE c.kind = 'schema'
), dependency AS (
    SELECT d.refclassid, d.refobjid,
           CASE d.classid
               WHEN 'pg_rewrite'::regclass THEN
                   (SELECT c.relnamespace FROM pg_rewrite AS r
                      JOIN pg_class AS c ON c.oid = r.ev_class WHERE r.oid = d.objid)
               WHEN 'pg_trigger'::regclass THEN
                   (SELECT c.relnamespace FROM pg_trigger AS t
                      JOIN pg_class AS c ON c.oid = t.tgrelid WHERE t.oid = d.objid)
               WHEN 'pg_policy'::regclass THEN
                   (SELECT c.relnamespace FROM pg_policy AS p
                      JOIN pg_class AS c ON c.oid = p.polrelid WHERE p.oid = d.objid)
               WHEN 'pg_attrdef'::regclass THEN
                   (SELECT c.relnamespace FROM pg_attrdef AS a
                      JOIN pg_class AS c ON c.oid = a.adrelid WHERE a.oid = d.objid)
               ELSE to_regnamespace(quote_ident(dep.schema))::oid
           END AS dependent_nsp,
           CASE
               WHEN d.classid = 'pg_rewrite'::regclass THEN
                   (SELECT CASE c.relkind WHEN 'm' THEN 'materialized view ' ELSE 'view ' END
                           || (pg_identify_object('pg_class'::regclass, c.oid, 0)).identity
                      FROM pg_rewrite AS r JOIN pg_class AS c ON c.oid = r.ev_class
                     WHERE r.oid = d.objid)
               WHEN d.classid = 'pg_constraint'::regclass
                    AND (SELECT contype FROM pg_constraint WHERE oid = d.objid) = 'f' THEN
                   'foreign key ' || dep.identity
               ELSE dep.type || ' ' || dep.identity
           END AS dependent,
           ref.identity AS referenced, ref.schema AS referenced_schema
      FROM pg_depend AS d
     CROSS JOIN LATERAL pg_identify_object(d.classid, d.objid, d.objsubid) AS dep
     CROSS JOIN LATERAL pg_identify_object(d.refclassid, d.refobjid, 0) AS ref
     WHERE d.deptype IN ('n', 'a')
       AND d.refclassid <> 'pg_namespace'::regclass
)
SELECT dependent, string_agg(DISTINCT referenced, ', ' ORDER BY referenced)
  FROM dependency
 WHERE to_regnamespace(quote_ident(referenced_schema))::oid IN (SELECT nsp FROM doomed)
   AND (dependent_nsp IS NULL OR dependent_nsp NOT IN (SELECT nsp FROM doomed))
   AND NOT EXISTS (SELECT 1 FROM pg_depend AS e
                    WHERE e.classid = dependency.refclassid AND e.objid = dependency.refobjid
                      AND e.deptype = 'e')
 GROUP BY dependent
 ORDER BY dependent;

-- name: drop_created#
-- `defi-sql fresh`: drop the schemas and extensions the migrations created,
-- with everything in them (foreign_dependents was checked first).
DO $$
DECLARE
    obj record;
BEGIN
    IF to_regclass('_defi_sql_created') IS NULL THEN
        RETURN;
    END IF;
    FOR obj IN EXECUTE 'SELECT kind, name FROM _defi_sql_created ORDER BY kind DESC, name' LOOP
        EXECUTE format(
            CASE obj.kind
                WHEN 'extension' THEN 'DROP EXTENSION IF EXISTS %I CASCADE'
                ELSE 'DROP SCHEMA IF EXISTS %I CASCADE'
            END, obj.name);
    END LOOP;
END
$$;

-- name: drop_schema_objects#
-- `defi-sql fresh`: drop every object in the current schema (tables, views,
-- sequences, functions, types, bookkeeping included), leaving the schema itself
-- and its privileges alone. Objects that belong to an extension are skipped, and
-- so are the migration tables of the TypeScript app sharing the database
-- (AdonisJS Lucid's adonis_schema and adonis_schema_versions), which no
-- migration created.
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
           AND c.relname NOT IN ('adonis_schema', 'adonis_schema_versions')
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
