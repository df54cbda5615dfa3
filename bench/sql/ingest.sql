-- The ingest section's own statements (bench/ingest.py).

-- name: ingest_create_flat_table#
-- bench_positions_flat: positions as it was before #11, one unpartitioned
-- table with its defaults, CHECKs and indexes (LIKE), the foreign key to
-- users (LIKE copies none; positions has one, and it is the largest cost of
-- an ingest, see bench/README.md) and the BEFORE INSERT trigger that
-- lower-cases wallet addresses; no read-model trigger. What COPY into it
-- costs is what an ingest cost before #11.
DROP TABLE IF EXISTS bench_positions_flat;
CREATE TABLE bench_positions_flat
    (LIKE positions INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING INDEXES);
ALTER TABLE bench_positions_flat
    ADD FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE;
CREATE TRIGGER bench_positions_flat_normalize_wallet_address
    BEFORE INSERT OR UPDATE OF wallet_address ON bench_positions_flat
    FOR EACH ROW EXECUTE FUNCTION normalize_wallet_address();

-- name: ingest_copy_flat#
-- positions_ingest's COPY, into bench_positions_flat.
COPY bench_positions_flat (user_id, wallet_address, protocol, chain_id, health_factor,
                           collateral, debt, metadata, snapshot_at)
FROM STDIN (FORMAT BINARY);

-- name: ingest_drop_flat_table#
DROP TABLE IF EXISTS bench_positions_flat;
