-- Undo 0039.copy-latest-positions: positions_latest is emptied, as 0038 left
-- it before the copy. The triggers keep filling it with new writes.

DELETE FROM positions_latest;
