-- The catalog facts `defi-sql check` needs about a result column's type: what
-- values an enum or a domain allows (a Literal field is compared with them).

-- name: column_type(table_oid, attnum)$
-- The declared type of a table column (a domain keeps its own oid here, while
-- the server describes a result column by the domain's base type).
SELECT a.atttypid
  FROM pg_attribute AS a
 WHERE a.attrelid = :table_oid
   AND a.attnum = :attnum;

-- name: type_values(type_oid)^
-- A type followed down its domains to the base: the domains (outermost first),
-- the CHECKs of each (pg_constraint on the domain) as "domain|definition", and
-- the enum at the bottom with its labels in their order (pg_enum).
WITH RECURSIVE chain AS (
    SELECT t.oid, t.typname, t.typtype, t.typbasetype, 1 AS depth
      FROM pg_type AS t
     WHERE t.oid = :type_oid
    UNION ALL
    SELECT b.oid, b.typname, b.typtype, b.typbasetype, c.depth + 1
      FROM chain AS c
      JOIN pg_type AS b ON b.oid = c.typbasetype
     WHERE c.typtype = 'd'
)
SELECT (SELECT array_agg(c.typname::text ORDER BY c.depth)
          FROM chain AS c
         WHERE c.typtype = 'd') AS domains,
       (SELECT array_agg(c.typname::text || '|' || pg_get_constraintdef(con.oid)
                         ORDER BY c.depth, con.conname)
          FROM chain AS c
          JOIN pg_constraint AS con ON con.contypid = c.oid AND con.contype = 'c') AS checks,
       (SELECT c.typname::text FROM chain AS c WHERE c.typtype = 'e') AS enum_name,
       (SELECT array_agg(e.enumlabel::text ORDER BY e.enumsortorder)
          FROM chain AS c
          JOIN pg_enum AS e ON e.enumtypid = c.oid) AS labels;
