-- The catalog facts defi_sql.check.plan reads a generic plan with (`defi-sql check`).

-- name: plan_column_not_null(schema_name, table_name, column_name)$
-- Whether every row holds a value in this column: NOT NULL, and not through a
-- NOT NULL constraint added NOT VALID (PostgreSQL 18 sets attnotnull at once,
-- while rows written before may still be NULL; 16 has no such constraint).
-- NULL when there is no such column.
SELECT a.attnotnull
       AND NOT EXISTS (SELECT
                         FROM pg_constraint AS con
                        WHERE con.conrelid = a.attrelid
                          AND con.contype = 'n'
                          AND NOT con.convalidated
                          AND con.conkey = ARRAY[a.attnum])
  FROM pg_attribute AS a
  JOIN pg_class AS c ON c.oid = a.attrelid
  JOIN pg_namespace AS n ON n.oid = c.relnamespace
 WHERE n.nspname = :schema_name
   AND c.relname = :table_name
   AND a.attname = :column_name
   AND NOT a.attisdropped;

-- name: plan_unique_keys(schema_name, table_name)
-- The unique indexes that hold at every statement's end: valid, not deferrable
-- (indimmediate is false for a DEFERRABLE constraint, whose duplicates live
-- until commit), on plain columns; each with its key columns only (the first
-- indnkeyatts of indkey: INCLUDE columns are not part of the key) and, for a
-- partial index, its predicate as pg_get_expr prints it.
SELECT ic.relname::text AS index_name,
       array_agg(a.attname::text ORDER BY a.attname) AS columns,
       pg_get_expr(i.indpred, i.indrelid) AS predicate
  FROM pg_index AS i
  JOIN pg_class AS c ON c.oid = i.indrelid
  JOIN pg_class AS ic ON ic.oid = i.indexrelid
  JOIN pg_namespace AS n ON n.oid = c.relnamespace
 CROSS JOIN LATERAL unnest(i.indkey::int2[]) WITH ORDINALITY AS k (attnum, position)
  JOIN pg_attribute AS a ON a.attrelid = c.oid AND a.attnum = k.attnum
 WHERE n.nspname = :schema_name
   AND c.relname = :table_name
   AND i.indisunique
   AND i.indisvalid
   AND i.indimmediate
   AND i.indexprs IS NULL
   AND k.position <= i.indnkeyatts
 GROUP BY ic.relname, i.indpred, i.indrelid;

-- name: plan_row_triggers(schema_name, table_name)$
-- Whether the table has a BEFORE ... FOR EACH ROW trigger on INSERT or UPDATE:
-- one that returns NULL skips the row, and RETURNING returns nothing for it.
SELECT EXISTS (SELECT
                 FROM pg_trigger AS t
                 JOIN pg_class AS c ON c.oid = t.tgrelid
                 JOIN pg_namespace AS n ON n.oid = c.relnamespace
                WHERE n.nspname = :schema_name
                  AND c.relname = :table_name
                  AND NOT t.tgisinternal
                  AND t.tgtype & 1 = 1          -- FOR EACH ROW
                  AND t.tgtype & 2 = 2          -- BEFORE
                  AND t.tgtype & (4 | 16) <> 0); -- INSERT or UPDATE

-- name: plan_user_operator(name)$
-- Whether an operator of this name is defined outside pg_catalog (by the
-- schema or an extension): its results are not known, NULL included.
SELECT EXISTS (SELECT
                 FROM pg_operator AS o
                 JOIN pg_namespace AS n ON n.oid = o.oprnamespace
                WHERE o.oprname = :name
                  AND n.nspname <> 'pg_catalog');

-- name: plan_user_function(name)$
-- Whether a function of this name is defined outside pg_catalog.
SELECT EXISTS (SELECT
                 FROM pg_proc AS p
                 JOIN pg_namespace AS n ON n.oid = p.pronamespace
                WHERE p.proname = :name
                  AND n.nspname <> 'pg_catalog');
