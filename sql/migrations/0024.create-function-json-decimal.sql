-- Every query that reads a decimal out of a JSON document (a user's threshold,
-- an intent's value) must read it the way the structs do: a JSON number or a
-- decimal string, in any notation the database accepts ("20", "2E+1", 1.5).
-- Before, at_risk read only JSON numbers and due only strings of plain digits,
-- so a threshold "1.25" fell back to the default and an intent stored as
-- "2E+1" never fired. json_decimal is that one reading, for every query.
-- depends: 0023.add-positions-write-seq

CREATE FUNCTION json_decimal(value jsonb) RETURNS numeric
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN CASE WHEN is_json_decimal(value) THEN (value #>> '{}')::numeric END;

COMMENT ON FUNCTION json_decimal(jsonb) IS
    'The decimal a JSON value holds when is_json_decimal(value) (a number >= 0, or a string of digits with optional fraction and exponent), else NULL: how every query reads thresholds and intent values, the way defi_sql.models reads them.';
