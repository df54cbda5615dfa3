-- Undo 0046.create-function-positions-make-partitions: the functions go; the
-- partitions they made stay (0045's rollback folds them back into one table).
-- squawk-ignore-file ban-drop-function -- the rollback of a CREATE FUNCTION must drop it

DROP FUNCTION positions_make_partitions(interval, timestamptz);
DROP FUNCTION positions_partitions();
