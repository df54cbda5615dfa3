-- Drop the signals table (with its indexes and comments).
-- squawk-ignore-file ban-drop-table -- the rollback of a CREATE TABLE must drop the table

DROP TABLE signals;
