-- Drop the positions table (with its indexes, triggers and comments).

DROP TABLE positions;
