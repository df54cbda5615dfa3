-- 0051.create-index-intents-user-id-id: intents unique on (user_id, id), for
-- the reason of 0050 (alerts): distributing intents by user_id then needs no
-- rewrite, this index becoming the primary key with ADD PRIMARY KEY USING
-- INDEX; the primary key stays on id until then. Built CONCURRENTLY: reads
-- and writes of intents go on.
-- Measured as 0050 (intents.create for the one-row writes): the one-statement
-- insert at 0.83x and 0.73x the rows/s before (29,400 -> 24,400; 31,400 ->
-- 23,000); intents.create at 1.07x and 1.18x, within the noise; the index 37.8
-- and 35.0 MB at 612,000 intents (intents_pkey 23 MB, the table 102 MB).
-- depends: 0050.create-index-alerts-user-id-id
-- transactional: false

-- A build that fails leaves an INVALID index of this name behind: drop it
-- (DROP INDEX CONCURRENTLY) and migrate again. IF NOT EXISTS would instead
-- skip the build and keep the invalid index.
-- squawk-ignore prefer-robust-stmts -- IF NOT EXISTS would keep a failed build's invalid index, see above
CREATE UNIQUE INDEX CONCURRENTLY intents_user_id_id_key ON intents (user_id, id);
