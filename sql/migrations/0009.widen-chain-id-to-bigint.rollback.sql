-- Undo 0009.widen-chain-id-to-bigint: chain_id back to integer. This fails, and
-- changes nothing, while a row holds a chain id above 2147483647: delete or move
-- those rows first.

-- squawk-ignore changing-column-type, prefer-bigint-over-int -- restores the type 0009 widened
ALTER TABLE intents ALTER COLUMN chain_id TYPE integer;

-- squawk-ignore changing-column-type, prefer-bigint-over-int -- restores the type 0009 widened
ALTER TABLE positions ALTER COLUMN chain_id TYPE integer;
