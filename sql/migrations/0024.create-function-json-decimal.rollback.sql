-- Undo 0024.create-function-json-decimal.
-- squawk-ignore-file ban-drop-function -- drops the function 0024 created

DROP FUNCTION json_decimal(jsonb);
