-- Drop the intents table (with its indexes, trigger and comments).
-- squawk-ignore-file ban-drop-table -- the rollback of a CREATE TABLE must drop the table

DROP TABLE intents;
