-- The catalog facts `defi-sql check` needs about result columns and tables.

-- name: column_facts(table_oid, attnum)^
-- One table column: NOT NULL, its enum-like CHECK (col IN (...)) and the JSON
-- kind a CHECK pins it to (jsonb_typeof(col) = 'object' or 'array').
SELECT a.attnotnull AS not_null,
       c.relname AS table_name,
       a.attname AS column_name,
       (SELECT pg_get_constraintdef(con.oid)
          FROM pg_constraint AS con
         WHERE con.conrelid = a.attrelid AND con.contype = 'c' AND con.conkey = ARRAY[a.attnum]
           -- the column itself IN (...), not a JSON key of it (0016's document CHECKs)
           AND starts_with(pg_get_constraintdef(con.oid),
                           'CHECK ((' || quote_ident(a.attname) || ' = ANY (ARRAY[')
         ORDER BY con.conname
         LIMIT 1) AS choices,
       (SELECT substring(pg_get_constraintdef(con.oid)
                         FROM 'jsonb?_typeof\(' || quote_ident(a.attname) || '\) = ''(\w+)''')
          FROM pg_constraint AS con
         WHERE con.conrelid = a.attrelid AND con.contype = 'c'
           AND a.attnum = ANY (con.conkey)
           AND substring(pg_get_constraintdef(con.oid)
                         FROM 'jsonb?_typeof\(' || quote_ident(a.attname) || '\) = ''(\w+)''')
               IS NOT NULL
         ORDER BY con.conname
         LIMIT 1) AS json_kind
  FROM pg_attribute AS a
  JOIN pg_class AS c ON c.oid = a.attrelid
 WHERE a.attrelid = :table_oid
   AND a.attnum = :attnum;

-- name: column_not_null(schema_name, table_name, column_name)$
-- Whether a column of a named table is NOT NULL (NULL when there is no such column).
SELECT a.attnotnull
  FROM pg_attribute AS a
  JOIN pg_class AS c ON c.oid = a.attrelid
  JOIN pg_namespace AS n ON n.oid = c.relnamespace
 WHERE n.nspname = :schema_name
   AND c.relname = :table_name
   AND a.attname = :column_name
   AND NOT a.attisdropped;

-- name: unique_keys(schema_name, table_name)
-- The column sets of a table's unique, non-partial indexes on plain columns.
SELECT array_agg(a.attname::text ORDER BY a.attname) AS columns
  FROM pg_index AS i
  JOIN pg_class AS c ON c.oid = i.indrelid
  JOIN pg_namespace AS n ON n.oid = c.relnamespace
  JOIN pg_attribute AS a ON a.attrelid = c.oid AND a.attnum = ANY (i.indkey::int2[])
 WHERE n.nspname = :schema_name
   AND c.relname = :table_name
   AND i.indisunique
   AND i.indpred IS NULL
   AND i.indexprs IS NULL
 GROUP BY i.indexrelid;

-- name: type_facts(type_oid)^
-- A type's name, category (A = array) and element type.
SELECT t.typname AS name, t.typcategory AS category, t.typelem AS element
  FROM pg_type AS t
 WHERE t.oid = :type_oid;

-- name: applied_migrations()
-- The ids of the migrations applied to this database, per yoyo's bookkeeping.
SELECT migration_id FROM _yoyo_migration ORDER BY applied_at_utc, migration_id;
