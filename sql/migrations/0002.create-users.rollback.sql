-- Drop the users table (with its indexes, triggers and comments).

DROP TABLE users;
