-- Drop the signals table (with its indexes and comments).

DROP TABLE signals;
