-- Drop the intents table (with its indexes, trigger and comments).

DROP TABLE intents;
