-- Positions: health-factor snapshots of a wallet on a protocol, many per user.
-- Reads go newest first through positions_user_id_snapshot_at_idx.
--
-- One rule names "the latest snapshot", in every query here and in
-- intents.intents_due: the newest snapshot_at, then the last written
-- (write_seq DESC NULLS LAST, from migration 0023), then id DESC. Lists use
-- the same order, so snapshots with equal times always come in one order.
-- role: defi_app, defi_worker

-- name: positions_create(user_id, wallet_address, protocol, chain_id, health_factor, collateral, debt, metadata, snapshot_at)^
-- Record one snapshot (snapshot_at defaults to now()).
-- returns: Position
INSERT INTO positions (user_id, wallet_address, protocol, chain_id, health_factor,
                       collateral, debt, metadata, snapshot_at)
VALUES (:user_id, :wallet_address, :protocol, :chain_id, :health_factor,
        :collateral, :debt, :metadata, coalesce(:snapshot_at, now()))
RETURNING id, user_id, wallet_address, protocol, chain_id, health_factor, collateral, debt,
          metadata, snapshot_at, created_at, updated_at;

-- name: positions_ingest#
-- Bulk ingest of many snapshots: binary COPY, the rows streamed by the caller.
-- Measured faster than a JSON array turned into rows by the server, and than
-- executemany (bench/README.md). PostgreSQL refuses COPY FROM under row-level
-- security, so ingest is the worker's.
-- role: defi_worker
COPY positions (user_id, wallet_address, protocol, chain_id, health_factor,
                collateral, debt, metadata, snapshot_at)
FROM STDIN (FORMAT BINARY);

-- name: positions_list_for_user(user_id)
-- Every snapshot of a user, newest first (preloading a user's positions).
-- returns: Position
SELECT id, user_id, wallet_address, protocol, chain_id, health_factor, collateral, debt,
       metadata, snapshot_at, created_at, updated_at
  FROM positions
 WHERE user_id = :user_id
 ORDER BY snapshot_at DESC, write_seq DESC NULLS LAST, id DESC;

-- name: positions_latest(user_id)^
-- The most recent snapshot of a user, on any protocol.
-- returns: Position
SELECT id, user_id, wallet_address, protocol, chain_id, health_factor, collateral, debt,
       metadata, snapshot_at, created_at, updated_at
  FROM positions
 WHERE user_id = :user_id
 ORDER BY snapshot_at DESC, write_seq DESC NULLS LAST, id DESC
 LIMIT 1;

-- name: positions_latest_per_protocol(user_id)
-- The most recent snapshot of a user on each (protocol, chain).
-- returns: Position
SELECT DISTINCT ON (protocol, chain_id)
       id, user_id, wallet_address, protocol, chain_id, health_factor, collateral, debt,
       metadata, snapshot_at, created_at, updated_at
  FROM positions
 WHERE user_id = :user_id
 ORDER BY protocol, chain_id, snapshot_at DESC, write_seq DESC NULLS LAST, id DESC;

-- name: positions_list_for_wallet(wallet_address, protocol, max_rows)
-- Snapshots of a wallet on a protocol, newest first, at most max_rows
-- (positions_wallet_address_protocol_snapshot_at_idx).
-- returns: Position
SELECT id, user_id, wallet_address, protocol, chain_id, health_factor, collateral, debt,
       metadata, snapshot_at, created_at, updated_at
  FROM positions
 WHERE wallet_address = :wallet_address
   AND protocol = :protocol
 ORDER BY snapshot_at DESC, write_seq DESC NULLS LAST, id DESC
 LIMIT :max_rows;

-- name: positions_history(user_id, since, until)
-- A user's snapshots with since <= snapshot_at < until, oldest first.
-- returns: Position
SELECT id, user_id, wallet_address, protocol, chain_id, health_factor, collateral, debt,
       metadata, snapshot_at, created_at, updated_at
  FROM positions
 WHERE user_id = :user_id
   AND snapshot_at >= :since
   AND snapshot_at < :until
 ORDER BY snapshot_at, write_seq NULLS FIRST, id;

-- name: positions_latest_per_user()
-- The most recent snapshot of every user who has one (LATERAL over users:
-- one index probe per user, in users_pkey order, so no sort). Measured faster
-- than DISTINCT ON (user_id) and row_number() over positions, which read every
-- snapshot (bench/latency.py).
-- returns: Position
SELECT p.id, p.user_id, p.wallet_address, p.protocol, p.chain_id, p.health_factor,
       p.collateral, p.debt, p.metadata, p.snapshot_at, p.created_at, p.updated_at
  FROM users AS u
 CROSS JOIN LATERAL (
        SELECT id, user_id, wallet_address, protocol, chain_id, health_factor, collateral,
               debt, metadata, snapshot_at, created_at, updated_at
          FROM positions
         WHERE positions.user_id = u.id
         ORDER BY snapshot_at DESC, write_seq DESC NULLS LAST, id DESC
         LIMIT 1
       ) AS p
 ORDER BY u.id;

-- name: positions_at_risk(default_threshold)
-- Every user's latest snapshot per (protocol, chain) whose health factor is
-- below the user's own preferences.alertThresholds.healthFactor (a JSON number
-- or decimal string, read by json_decimal as users.get reads it), or below
-- default_threshold when that is unset. One statement. A NULL health factor
-- (no debt) is never below anything.
-- returns: PositionAtRisk
-- not null: alert_threshold
SELECT p.id, p.user_id, p.wallet_address, p.protocol, p.chain_id, p.health_factor,
       p.collateral, p.debt, p.metadata, p.snapshot_at, p.created_at, p.updated_at,
       t.alert_threshold
  FROM users AS u
 CROSS JOIN LATERAL (
        SELECT coalesce(json_decimal(u.preferences #> '{alertThresholds,healthFactor}'),
                        :default_threshold::numeric) AS alert_threshold
       ) AS t
 CROSS JOIN LATERAL (
        SELECT DISTINCT ON (protocol, chain_id)
               id, user_id, wallet_address, protocol, chain_id, health_factor, collateral,
               debt, metadata, snapshot_at, created_at, updated_at
          FROM positions
         WHERE positions.user_id = u.id
         ORDER BY protocol, chain_id, snapshot_at DESC, write_seq DESC NULLS LAST, id DESC
       ) AS p
 WHERE p.health_factor < t.alert_threshold
 ORDER BY p.health_factor, p.user_id, p.protocol, p.chain_id;

-- name: positions_iterate_all()
-- Every snapshot in storage order, for exports and projections: no sort, so
-- it streams from the first row however large the table (iterate it).
-- returns: Position
SELECT id, user_id, wallet_address, protocol, chain_id, health_factor, collateral, debt,
       metadata, snapshot_at, created_at, updated_at
  FROM positions;
