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

-- name: type_facts(type_oid)^
-- A type's name, category (A = array) and element type.
SELECT t.typname AS name, t.typcategory AS category, t.typelem AS element
  FROM pg_type AS t
 WHERE t.oid = :type_oid;

-- name: applied_migrations()
-- The ids of the migrations applied to this database, per yoyo's bookkeeping.
SELECT migration_id FROM _yoyo_migration ORDER BY applied_at_utc, migration_id;
