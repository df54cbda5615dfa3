-- The catalog facts defi_sql.check.shards reads a plan's scans with (`defi-sql check`).

-- name: shards_root(schema_name, table_name)^
-- The table a relation belongs to for distribution: the top of its partition
-- tree (a partition of positions is positions), else itself; NULL for none.
SELECT rn.nspname::text AS schema_name, r.relname::text AS table_name
  FROM pg_class AS c
  JOIN pg_namespace AS n ON n.oid = c.relnamespace
  JOIN pg_class AS r ON r.oid = coalesce(pg_partition_root(c.oid), c.oid)
  JOIN pg_namespace AS rn ON rn.oid = r.relnamespace
 WHERE n.nspname = :schema_name
   AND c.relname = :table_name;

-- name: shards_column_number(schema_name, table_name, column_name)$
-- The column's attnum: where an INSERT's plan puts its value (every column,
-- dropped ones included, in attnum order). NULL when there is no such column.
SELECT a.attnum::int
  FROM pg_attribute AS a
  JOIN pg_class AS c ON c.oid = a.attrelid
  JOIN pg_namespace AS n ON n.oid = c.relnamespace
 WHERE n.nspname = :schema_name
   AND c.relname = :table_name
   AND a.attname = :column_name
   AND NOT a.attisdropped;
