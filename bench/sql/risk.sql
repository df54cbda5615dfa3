-- The risk section's own statements (bench/risk.py, #11): the floor every
-- every-tick query is compared with, and the history that deepens a data set.

-- name: risk_one_pass_over_users()
-- One server pass over the users: every row of users read by a sequential
-- scan (the caller's session turns index, index-only and bitmap scans off),
-- the wallet address of each taken from its tuple, one row back to the client.
-- The least any query that looks at every user can cost.
SELECT count(wallet_address) AS users
  FROM users;

-- name: risk_positions_span()^
-- The oldest and newest snapshot and how many there are.
SELECT min(snapshot_at) AS oldest, max(snapshot_at) AS newest, count(*) AS positions
  FROM positions;

-- name: risk_add_history(first_copy, last_copy, step, since)
-- Older history for the same users: copies first_copy .. last_copy of every
-- snapshot taken at or after since (the data set as seeded), copy k shifted
-- back by a day and k steps (step: at least the seeded snapshots' span, so
-- that the copies do not overlap; bench/risk.py spreads them over a year).
-- Every copy is older than every
-- seeded snapshot, so each user's latest snapshots, and so every every-tick
-- answer, stay what they were; a one-day range ending at the newest snapshot
-- still holds the seeded snapshots only.
INSERT INTO positions (user_id, wallet_address, protocol, chain_id, health_factor,
                       collateral, debt, metadata, snapshot_at)
SELECT p.user_id, p.wallet_address, p.protocol, p.chain_id, p.health_factor,
       p.collateral, p.debt, p.metadata,
       p.snapshot_at - interval '1 day' - k * :step::interval
  FROM positions AS p
 CROSS JOIN generate_series(:first_copy::integer, :last_copy::integer) AS k
 WHERE p.snapshot_at >= :since::timestamptz;
