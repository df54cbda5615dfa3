-- A fingerprint of the current schema, read from the catalog: one row per
-- object (kind, name, definition), in a stable order. Two schemas are the same
-- when their fingerprints are equal. Migration bookkeeping (yoyo's tables and
-- ours) is left out. Used by the rollback round-trip proof and by `check`.

-- name: schema_fingerprint()
-- Every table, column, constraint, index, trigger, function, type, view,
-- sequence, policy and comment of the current schema, and the database's
-- settings.
WITH ns AS (
    SELECT current_schema()::regnamespace::oid AS oid
), rel AS (
    SELECT c.oid, c.relname, c.relkind, c.relrowsecurity, c.relforcerowsecurity, c.reloptions,
           -- the grants to roles other than the owner (whoever that is here), with
           -- a never-granted (NULL) ACL and one granted then revoked alike
           (SELECT string_agg(g.acl_item, ',' ORDER BY g.acl_item)
              FROM (SELECT CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE a.grantee::regrole::text END
                           || ':' || a.privilege_type || CASE WHEN a.is_grantable THEN '*' ELSE '' END
                      FROM aclexplode(coalesce(c.relacl, acldefault('r', c.relowner))) AS a
                     WHERE a.grantee <> c.relowner) AS g (acl_item)) AS relacl
      FROM pg_class AS c, ns
     WHERE c.relnamespace = ns.oid
       AND NOT starts_with(c.relname, '_yoyo_')
       AND NOT starts_with(c.relname, 'yoyo_')
       AND NOT starts_with(c.relname, '_defi_sql_')
), items (kind, name, definition) AS (
    SELECT 'relation', r.relname,
           concat_ws(' ', 'kind=' || r.relkind::text, 'rls=' || r.relrowsecurity::text,
                     'force_rls=' || r.relforcerowsecurity::text, 'acl=' || r.relacl::text,
                     -- storage parameters (fillfactor, autovacuum settings ...), when set
                     'options=' || array_to_string(r.reloptions, ','),
                     'comment=' || obj_description(r.oid, 'pg_class'))
      FROM rel AS r
     WHERE r.relkind IN ('r', 'p', 'v', 'm', 'f', 'c')
    UNION ALL
    SELECT 'column', r.relname || '.' || a.attname,
           concat_ws(' ', format_type(a.atttypid, a.atttypmod),
                     CASE WHEN a.attnotnull THEN 'NOT NULL' END,
                     'DEFAULT ' || pg_get_expr(d.adbin, d.adrelid),
                     CASE a.attidentity WHEN 'a' THEN 'IDENTITY ALWAYS'
                                        WHEN 'd' THEN 'IDENTITY BY DEFAULT' END,
                     CASE WHEN a.attgenerated <> '' THEN 'GENERATED' END,
                     -- the logical position: a dropped column leaves a gap in attnum
                     'position=' || (SELECT count(*) FROM pg_attribute AS b
                                      WHERE b.attrelid = r.oid AND b.attnum > 0
                                        AND b.attnum <= a.attnum AND NOT b.attisdropped),
                     'comment=' || col_description(r.oid, a.attnum))
      FROM rel AS r
      JOIN pg_attribute AS a ON a.attrelid = r.oid AND a.attnum > 0 AND NOT a.attisdropped
      LEFT JOIN pg_attrdef AS d ON d.adrelid = r.oid AND d.adnum = a.attnum
     WHERE r.relkind IN ('r', 'p', 'v', 'm', 'f', 'c')
    UNION ALL
    SELECT 'constraint', r.relname || '.' || con.conname,
           concat_ws(' ', pg_get_constraintdef(con.oid),
                     'comment=' || obj_description(con.oid, 'pg_constraint'))
      FROM rel AS r
      JOIN pg_constraint AS con ON con.conrelid = r.oid
    UNION ALL
    SELECT 'index', r.relname,
           concat_ws(' ', pg_get_indexdef(r.oid),
                     'comment=' || obj_description(r.oid, 'pg_class'))
      FROM rel AS r
     WHERE r.relkind IN ('i', 'I')
    UNION ALL
    SELECT 'sequence', r.relname,
           concat_ws(' ', format_type(s.seqtypid, NULL), s.seqstart, s.seqincrement,
                     s.seqmin, s.seqmax, s.seqcache, s.seqcycle)
      FROM rel AS r
      JOIN pg_sequence AS s ON s.seqrelid = r.oid
    UNION ALL
    SELECT 'view', r.relname, pg_get_viewdef(r.oid)
      FROM rel AS r
     WHERE r.relkind IN ('v', 'm')
    UNION ALL
    SELECT 'trigger', r.relname || '.' || t.tgname,
           concat_ws(' ', pg_get_triggerdef(t.oid), 'enabled=' || t.tgenabled::text,
                     'comment=' || obj_description(t.oid, 'pg_trigger'))
      FROM rel AS r
      JOIN pg_trigger AS t ON t.tgrelid = r.oid AND NOT t.tgisinternal
    UNION ALL
    SELECT 'policy', r.relname || '.' || p.polname,
           concat_ws(' ', p.polcmd, p.polpermissive,
                     (SELECT string_agg(CASE WHEN x = 0 THEN 'PUBLIC' ELSE x::regrole::text END,
                                        ',' ORDER BY x::regrole::text)
                        FROM unnest(p.polroles) AS x),
                     'using=' || pg_get_expr(p.polqual, p.polrelid),
                     'check=' || pg_get_expr(p.polwithcheck, p.polrelid))
      FROM rel AS r
      JOIN pg_policy AS p ON p.polrelid = r.oid
    UNION ALL
    SELECT 'function', p.oid::regprocedure::text,
           concat_ws(' ', pg_get_functiondef(p.oid),
                     'acl=' || (SELECT string_agg(g.acl_item, ',' ORDER BY g.acl_item)
                                  FROM (SELECT CASE WHEN a.grantee = 0 THEN 'PUBLIC'
                                                    ELSE a.grantee::regrole::text END
                                               || ':' || a.privilege_type
                                          FROM aclexplode(coalesce(p.proacl,
                                                                   acldefault('f', p.proowner))) AS a
                                         WHERE a.grantee <> p.proowner) AS g (acl_item)),
                     'comment=' || obj_description(p.oid, 'pg_proc'))
      FROM pg_proc AS p, ns
     WHERE p.pronamespace = ns.oid AND p.prokind IN ('f', 'p')
    UNION ALL
    SELECT 'type', t.typname,
           concat_ws(' ', t.typtype,
                     (SELECT string_agg(e.enumlabel, ',' ORDER BY e.enumsortorder)
                        FROM pg_enum AS e WHERE e.enumtypid = t.oid),
                     CASE WHEN t.typtype = 'd' THEN format_type(t.typbasetype, t.typtypmod) END,
                     'comment=' || obj_description(t.oid, 'pg_type'))
      FROM pg_type AS t, ns
     WHERE t.typnamespace = ns.oid AND t.typtype IN ('e', 'd', 'r')
    UNION ALL
    -- the database's own settings for every role (ALTER DATABASE ... SET, 0053)
    SELECT 'setting', split_part(c.setting, '=', 1), substr(c.setting, strpos(c.setting, '=') + 1)
      FROM pg_db_role_setting AS s
      JOIN pg_database AS d ON d.oid = s.setdatabase
     CROSS JOIN unnest(s.setconfig) AS c (setting)
     WHERE d.datname = current_database()
       AND s.setrole = 0
)
SELECT kind, name, definition
  FROM items
 ORDER BY kind, name, definition;

-- name: table_columns(table_name)
-- The columns of one table of the current schema, in order, for `defi-sql struct`.
SELECT a.attname AS name,
       format_type(a.atttypid, a.atttypmod) AS sql_type,
       coalesce(elem.typname, t.typname) AS base_type,
       elem.typname IS NOT NULL AS is_array,
       a.attnotnull AS not_null,
       col_description(c.oid, a.attnum) AS comment,
       pg_get_expr(d.adbin, d.adrelid) AS default_expr,
       (SELECT pg_get_constraintdef(con.oid)
          FROM pg_constraint AS con
         WHERE con.conrelid = c.oid AND con.contype = 'c' AND con.conkey = ARRAY[a.attnum]
           -- the column itself IN (...), not a JSON key of it (0016's document CHECKs)
           AND starts_with(pg_get_constraintdef(con.oid),
                           'CHECK ((' || quote_ident(a.attname) || ' = ANY (ARRAY[')
         ORDER BY con.conname
         LIMIT 1) AS choices
  FROM pg_class AS c
  JOIN pg_attribute AS a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
  JOIN pg_type AS t ON t.oid = a.atttypid
  LEFT JOIN pg_type AS elem ON elem.oid = t.typelem AND t.typcategory = 'A'
  LEFT JOIN pg_attrdef AS d ON d.adrelid = c.oid AND d.adnum = a.attnum
 WHERE c.relnamespace = current_schema()::regnamespace
   AND c.relname = :table_name
   AND c.relkind IN ('r', 'p', 'v', 'm')
 ORDER BY a.attnum;

-- name: table_comment(table_name)$
-- The COMMENT ON TABLE text of one table of the current schema.
SELECT obj_description(c.oid, 'pg_class')
  FROM pg_class AS c
 WHERE c.relnamespace = current_schema()::regnamespace
   AND c.relname = :table_name;

-- name: documented_tables()
-- The tables of the current schema (bookkeeping left out) with their comments,
-- and the partition key of a partitioned one (NULL for the others).
SELECT c.relname AS name, obj_description(c.oid, 'pg_class') AS comment,
       CASE WHEN c.relkind = 'p' THEN pg_get_partkeydef(c.oid) END AS partition_key
  FROM pg_class AS c
 WHERE c.relnamespace = current_schema()::regnamespace
   AND c.relkind IN ('r', 'p')
   AND NOT starts_with(c.relname, '_yoyo_')
   AND NOT starts_with(c.relname, 'yoyo_')
   AND NOT starts_with(c.relname, '_defi_sql_')
 ORDER BY c.relname;

-- name: table_constraints(table_name)
-- The constraints of one table: name, kind (p, u, f, c, x) and definition.
SELECT con.conname AS name, con.contype::text AS kind, pg_get_constraintdef(con.oid) AS definition
  FROM pg_constraint AS con
  JOIN pg_class AS c ON c.oid = con.conrelid
 WHERE c.relnamespace = current_schema()::regnamespace
   AND c.relname = :table_name
   AND con.contype <> 'n'
 ORDER BY con.contype, con.conname;

-- name: table_indexes(table_name)
-- The indexes of one table, with their definitions and comments.
SELECT i.relname AS name, pg_get_indexdef(i.oid) AS definition,
       obj_description(i.oid, 'pg_class') AS comment
  FROM pg_index AS x
  JOIN pg_class AS i ON i.oid = x.indexrelid
  JOIN pg_class AS c ON c.oid = x.indrelid
 WHERE c.relnamespace = current_schema()::regnamespace
   AND c.relname = :table_name
 ORDER BY i.relname;

-- name: table_access(table_name)
-- Who besides the owner may do what to one table: (role, privileges), and
-- whether row-level security is on; for docs/schema.md.
SELECT CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE a.grantee::regrole::text END AS grantee,
       string_agg(a.privilege_type, ', ' ORDER BY a.privilege_type) AS privileges
  FROM pg_class AS c,
       aclexplode(coalesce(c.relacl, acldefault('r', c.relowner))) AS a
 WHERE c.relnamespace = current_schema()::regnamespace
   AND c.relname = :table_name
   AND a.grantee <> c.relowner
 GROUP BY a.grantee
 ORDER BY 1;

-- name: table_policies(table_name)
-- The row-level security policies of one table, with their roles, command,
-- conditions and comments.
SELECT p.polname AS name,
       (SELECT string_agg(CASE WHEN x = 0 THEN 'PUBLIC' ELSE x::regrole::text END, ', '
                          ORDER BY x::regrole::text)
          FROM unnest(p.polroles) AS x) AS roles,
       CASE p.polcmd WHEN 'r' THEN 'SELECT' WHEN 'a' THEN 'INSERT' WHEN 'w' THEN 'UPDATE'
                     WHEN 'd' THEN 'DELETE' ELSE 'ALL' END AS command,
       pg_get_expr(p.polqual, p.polrelid) AS using_expr,
       pg_get_expr(p.polwithcheck, p.polrelid) AS check_expr,
       obj_description(p.oid, 'pg_policy') AS comment
  FROM pg_policy AS p
  JOIN pg_class AS c ON c.oid = p.polrelid
 WHERE c.relnamespace = current_schema()::regnamespace
   AND c.relname = :table_name
 ORDER BY p.polname;

-- name: foreign_keys()
-- Every foreign key of the current schema: from table/columns to table, for the ER diagram.
SELECT c.relname AS from_table, r.relname AS to_table,
       (SELECT string_agg(a.attname, ', ' ORDER BY a.attnum)
          FROM pg_attribute AS a
         WHERE a.attrelid = c.oid AND a.attnum = ANY (con.conkey)) AS columns,
       bool_and(a2.attnotnull) AS required
  FROM pg_constraint AS con
  JOIN pg_class AS c ON c.oid = con.conrelid
  JOIN pg_class AS r ON r.oid = con.confrelid
  JOIN pg_attribute AS a2 ON a2.attrelid = c.oid AND a2.attnum = ANY (con.conkey)
 WHERE con.contype = 'f'
   AND c.relnamespace = current_schema()::regnamespace
 GROUP BY c.relname, r.relname, c.oid, con.conkey, con.conname
 ORDER BY c.relname, con.conname;
