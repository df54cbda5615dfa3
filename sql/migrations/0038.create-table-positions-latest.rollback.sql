-- Undo 0038.create-table-positions-latest: the triggers, their functions and
-- the read model go; positions itself is untouched.
-- squawk-ignore-file ban-drop-table, ban-drop-function -- the read model of 0038 and its trigger functions, nothing else uses them

DROP TRIGGER positions_latest_truncate ON positions;
DROP TRIGGER positions_latest_delete ON positions;
DROP TRIGGER positions_latest_update ON positions;
DROP TRIGGER positions_latest_insert ON positions;
DROP FUNCTION positions_latest_truncate();
DROP FUNCTION positions_latest_delete();
DROP FUNCTION positions_latest_update();
DROP FUNCTION positions_latest_refresh(uuid[], text[], bigint[]);
DROP FUNCTION positions_latest_insert();
DROP TABLE positions_latest;
