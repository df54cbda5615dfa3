-- Drop the alerts table (with its indexes and comments).

DROP TABLE alerts;
