-- The catalog facts defi_sql.check.replica proves a `replica: ok` query read-only with
-- (`defi-sql check`). Each runs in a transaction check rolls back at once.

-- name: replica_probe_maker()!
-- A temporary function that turns a query into the probe: a LANGUAGE sql function
-- whose BEGIN ATOMIC body is the query, parsed and stored by the server, so that
-- pg_depend records every function, operator, type and relation it refers to,
-- overloads resolved (built-in objects are pinned: pg_depend records none of
-- them). Returns the probe's oid.
CREATE FUNCTION pg_temp.defi_sql_probe(parameter_types oid[], body text) RETURNS oid
LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE 'CREATE FUNCTION pg_temp.defi_sql_probed('
            || coalesce((SELECT string_agg(format_type(t, NULL), ', ' ORDER BY n)
                           FROM unnest(parameter_types) WITH ORDINALITY AS p (t, n)), '')
            || ') RETURNS void LANGUAGE sql BEGIN ATOMIC ' || body || '; END';
    RETURN (SELECT p.oid
              FROM pg_proc AS p
             WHERE p.proname = 'defi_sql_probed'
               AND p.pronamespace = pg_my_temp_schema());
END
$$;

-- name: replica_probe(parameter_types, body)$
-- The probe of a query (``$n`` parameters of these types): its oid.
SELECT pg_temp.defi_sql_probe(:parameter_types::oid[], :body);

-- name: replica_references(class_name, object_id)
-- What running one object may run in turn, as pg_depend records it: a function's
-- BEGIN ATOMIC body (an aggregate's support functions), an operator's function,
-- a view's rules, a table's row-level security policies, a domain's CHECK
-- constraints; each a function, operator, relation or type, by catalog and oid.
SELECT DISTINCT d.refclassid::regclass::text AS class_name, d.refobjid AS object_id
  FROM pg_depend AS d
 WHERE d.refclassid IN ('pg_proc'::regclass, 'pg_operator'::regclass,
                        'pg_class'::regclass, 'pg_type'::regclass)
   AND d.refobjid <> :object_id
   AND CASE :class_name::text
           WHEN 'pg_proc' THEN d.classid = 'pg_proc'::regclass AND d.objid = :object_id
           WHEN 'pg_operator' THEN d.classid = 'pg_operator'::regclass AND d.objid = :object_id
           WHEN 'pg_class' THEN
               (d.classid = 'pg_rewrite'::regclass
                AND d.objid IN (SELECT r.oid FROM pg_rewrite AS r WHERE r.ev_class = :object_id))
               OR (d.classid = 'pg_policy'::regclass
                   AND d.objid IN (SELECT p.oid FROM pg_policy AS p WHERE p.polrelid = :object_id))
           WHEN 'pg_type' THEN
               d.classid = 'pg_constraint'::regclass
               AND d.objid IN (SELECT c.oid FROM pg_constraint AS c WHERE c.contypid = :object_id)
           ELSE false
       END
 ORDER BY 1, 2;

-- name: replica_function(function_id)^
-- One function: its signature, name, volatility (i immutable, s stable, v volatile),
-- language, and its body as text (a BEGIN ATOMIC body deparsed; none for an
-- aggregate, whose support functions are references of their own).
SELECT p.oid::regprocedure::text AS signature,
       p.proname::text AS name,
       p.provolatile::text AS volatility,
       l.lanname::text AS language,
       CASE WHEN p.prokind <> 'a'
            THEN coalesce(pg_get_function_sqlbody(p.oid), p.prosrc) END AS body
  FROM pg_proc AS p
  JOIN pg_language AS l ON l.oid = p.prolang
 WHERE p.oid = :function_id;

-- name: replica_functions_named(name)
-- The functions of this name defined outside pg_catalog (by the schema or an
-- extension), every overload: a body that is text names what it calls by name.
SELECT p.oid
  FROM pg_proc AS p
  JOIN pg_namespace AS n ON n.oid = p.pronamespace
 WHERE p.proname = :name
   AND n.nspname NOT IN ('pg_catalog', 'information_schema')
 ORDER BY p.oid;

-- name: replica_volatile_builtins()
-- The names of pg_catalog's VOLATILE functions (nextval, pg_advisory_lock, ...).
SELECT DISTINCT p.proname::text AS name
  FROM pg_proc AS p
 WHERE p.pronamespace = 'pg_catalog'::regnamespace
   AND p.provolatile = 'v'
 ORDER BY 1;
