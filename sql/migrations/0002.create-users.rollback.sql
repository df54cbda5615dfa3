-- Drop the users table (with its indexes, triggers and comments).
-- squawk-ignore-file ban-drop-table -- the rollback of a CREATE TABLE must drop the table

DROP TABLE users;
