-- Undo 0047.create-table-positions-daily: the rollups and their functions go
-- (the snapshots they summed up are gone already: retention dropped them).
-- squawk-ignore-file ban-drop-table, ban-drop-function -- the rollback of 0047's CREATEs

DROP FUNCTION positions_drop_detached(text);
DROP FUNCTION positions_detached();
DROP FUNCTION positions_detach_partition(text);
DROP FUNCTION positions_roll_up(timestamptz, timestamptz, regclass);
DROP FUNCTION positions_usd(jsonb);
DROP TABLE positions_daily;
