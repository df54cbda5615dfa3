-- Undo 0055.bound-json-decimal: decimal strings of any length again.

CREATE OR REPLACE FUNCTION is_json_decimal(value jsonb) RETURNS boolean
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN CASE jsonb_typeof(value)
        WHEN 'number' THEN value::numeric >= 0
        WHEN 'string' THEN value #>> '{}' ~ '^[0-9]+(\.[0-9]+)?([eE][+-]?[0-9]{1,3})?$'
        ELSE false
    END;

COMMENT ON FUNCTION is_json_decimal(jsonb) IS
    'True when value is a decimal >= 0 as defi-sql reads it: a JSON number, or a JSON string of digits with an optional fraction and exponent ("1.5", "2E+1"). False for anything else, NULL included.';
