-- EVM chain ids do not fit in integer: EIP-155 allows any positive number and
-- chains above 2^31 exist (Palm mainnet is 11297108109), so positions.chain_id
-- and intents.chain_id become bigint.
-- depends: 0008.create-index-alerts-signal-user-type

-- Changing a column's type rewrites the table under an ACCESS EXCLUSIVE lock;
-- acceptable here because the project holds no production data yet. On a large
-- table, add a bigint column, backfill it in batches and swap it in instead.
-- squawk-ignore changing-column-type -- no production data yet, see above
ALTER TABLE positions ALTER COLUMN chain_id TYPE bigint;

-- squawk-ignore changing-column-type -- no production data yet, see above
ALTER TABLE intents ALTER COLUMN chain_id TYPE bigint;
