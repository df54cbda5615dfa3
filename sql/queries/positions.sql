-- Positions: health-factor snapshots of a wallet on a protocol, many per user.
-- Reads of history go newest first through positions_user_id_snapshot_at_idx;
-- reads of the latest snapshots go to positions_latest (migration 0038), the
-- read model the database keeps in the writing transaction: one row per
-- (user, protocol, chain), so they never look through history.
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
-- replica: ok
SELECT id, user_id, wallet_address, protocol, chain_id, health_factor, collateral, debt,
       metadata, snapshot_at, created_at, updated_at
  FROM positions
 WHERE user_id = :user_id
 ORDER BY snapshot_at DESC, write_seq DESC NULLS LAST, id DESC;

-- name: positions_latest(user_id)^
-- The most recent snapshot of a user, on any protocol (positions_latest_key).
-- replica: ok
-- returns: Position
-- (protocol and chain_id are NOT NULL in positions; NULL here only for a snapshot
-- written around a dropped NOT NULL, which the row maker reports for its row)
-- not null: protocol, chain_id
SELECT id, user_id, wallet_address, protocol, chain_id, health_factor, collateral, debt,
       metadata, snapshot_at, created_at, updated_at
  FROM positions_latest
 WHERE user_id = :user_id
 ORDER BY snapshot_at DESC, write_seq DESC NULLS LAST, id DESC
 LIMIT 1;

-- name: positions_latest_per_protocol(user_id)
-- The most recent snapshot of a user on each (protocol, chain): the user's
-- rows of positions_latest, in positions_latest_key order.
-- returns: Position
-- (protocol and chain_id are NOT NULL in positions; NULL here only for a snapshot
-- written around a dropped NOT NULL, which the row maker reports for its row)
-- not null: protocol, chain_id
-- replica: ok
SELECT id, user_id, wallet_address, protocol, chain_id, health_factor, collateral, debt,
       metadata, snapshot_at, created_at, updated_at
  FROM positions_latest
 WHERE user_id = :user_id
 ORDER BY protocol, chain_id;

-- name: positions_list_for_wallet_recent(wallet_address, protocol, since, until, max_rows)
-- Snapshots of a wallet on a protocol with since <= snapshot_at <= until,
-- newest first, at most max_rows (positions_wallet_address_protocol_snapshot_at_idx).
-- positions.list_for_wallet asks this first, since a month back and until
-- 'infinity': PostgreSQL reads only the partitions from since on, where a
-- wallet's newest snapshots are, instead of one index probe in every
-- partition of the history (with a year of monthly partitions: 1.5-2.0 ms
-- against 0.6-0.7 ms with the history empty, bench/README.md). until is a
-- parameter, not left out, so that the statement keeps one generic plan:
-- with a parameter on one side only PostgreSQL planned every call once a
-- wallet had thousands of snapshots (pg_prepared_statements: 0 generic
-- plans of 2,995 calls at 2,500 snapshots a wallet, 2,990 of 2,995 with both
-- bounds, which it estimates as a narrow range).
-- returns: Position
-- replica: ok
-- shards: multi, by wallet address, which is not the distribution column
SELECT id, user_id, wallet_address, protocol, chain_id, health_factor, collateral, debt,
       metadata, snapshot_at, created_at, updated_at
  FROM positions
 WHERE wallet_address = :wallet_address
   AND protocol = :protocol
   AND snapshot_at >= :since
   AND snapshot_at <= :until
 ORDER BY snapshot_at DESC, write_seq DESC NULLS LAST, id DESC
 LIMIT :max_rows;

-- name: positions_list_for_wallet_before(wallet_address, protocol, before, max_rows)
-- Snapshots of a wallet on a protocol taken before before, newest first, at
-- most max_rows: the rest of positions.list_for_wallet's answer when the
-- recent ones (positions_list_for_wallet_recent, since = before) were fewer
-- than asked for.
-- returns: Position
-- replica: ok
-- shards: multi, by wallet address, which is not the distribution column
SELECT id, user_id, wallet_address, protocol, chain_id, health_factor, collateral, debt,
       metadata, snapshot_at, created_at, updated_at
  FROM positions
 WHERE wallet_address = :wallet_address
   AND protocol = :protocol
   AND snapshot_at < :before
 ORDER BY snapshot_at DESC, write_seq DESC NULLS LAST, id DESC
 LIMIT :max_rows;

-- name: positions_history(user_id, since, until)
-- A user's snapshots with since <= snapshot_at < until, oldest first.
-- replica: ok
-- returns: Position
SELECT id, user_id, wallet_address, protocol, chain_id, health_factor, collateral, debt,
       metadata, snapshot_at, created_at, updated_at
  FROM positions
 WHERE user_id = :user_id
   AND snapshot_at >= :since
   AND snapshot_at < :until
 ORDER BY snapshot_at, write_seq NULLS FIRST, id;

-- name: positions_snapshots_since()$
-- Since when positions holds every snapshot: the start of its oldest partition,
-- NULL while that one is unbounded (retention has dropped nothing). Older
-- history is in positions_daily. Read straight from the catalog, as
-- positions_partitions() (0046) does, without that function's range parsing:
-- every positions.history asks this, and with a year of monthly partitions
-- the function took 1.8 ms where this takes 0.5 ms (psql, 15 partitions).
-- replica: ok
-- returns: datetime | None
SELECT CASE WHEN NOT starts_with(bound, 'FOR VALUES FROM (MINVALUE)')
            THEN split_part(bound, '''', 2)::timestamptz END AS range_start
  FROM (SELECT pg_get_expr(c.relpartbound, c.oid) AS bound
          FROM pg_inherits AS i
          JOIN pg_class AS c ON c.oid = i.inhrelid
         WHERE i.inhparent = 'positions'::regclass) AS p
 WHERE bound <> 'DEFAULT'
 ORDER BY range_start NULLS FIRST
 LIMIT 1;

-- name: positions_history_daily(user_id, since, until)
-- A user's daily rollups (positions_daily, written by retention) of the UTC
-- days that overlap since <= t < until, oldest first.
-- replica: ok
-- returns: DailyPosition
SELECT user_id, protocol, chain_id, day, snapshots, first_health_factor,
       last_health_factor, min_health_factor, last_collateral_usd, last_debt_usd,
       first_snapshot_at, last_snapshot_at
  FROM positions_daily
 WHERE user_id = :user_id
   AND day >= (:since::timestamptz AT TIME ZONE 'UTC')::date
   AND day < (:until::timestamptz AT TIME ZONE 'UTC')::date + 1
   AND first_snapshot_at < :until
   AND last_snapshot_at >= :since
 ORDER BY day, protocol, chain_id;

-- name: positions_latest_per_user()
-- The most recent snapshot of every user who has one, in user order: one
-- pass over positions_latest, never over history.
-- returns: Position
-- (protocol and chain_id are NOT NULL in positions; NULL here only for a snapshot
-- written around a dropped NOT NULL, which the row maker reports for its row)
-- not null: protocol, chain_id
-- replica: ok
-- shards: multi, every user's latest snapshot
SELECT DISTINCT ON (user_id)
       id, user_id, wallet_address, protocol, chain_id, health_factor, collateral, debt,
       metadata, snapshot_at, created_at, updated_at
  FROM positions_latest
 ORDER BY user_id, snapshot_at DESC, write_seq DESC NULLS LAST, id DESC;

-- name: positions_at_risk(default_threshold)
-- Every user's latest snapshot per (protocol, chain) whose health factor is
-- below the user's own preferences.alertThresholds.healthFactor (a JSON number
-- or decimal string, read by json_decimal as users.get reads it: the generated
-- column users.alert_threshold, migration 0040), or below default_threshold
-- when that is unset. One statement: one pass over positions_latest hashed
-- against one pass over users, so a threshold changed a moment ago counts at
-- once. A NULL health factor (no debt) is never below anything.
-- replica: ok
-- returns: PositionAtRisk
-- (protocol and chain_id are NOT NULL in positions; NULL here only for a snapshot
-- written around a dropped NOT NULL, which the row maker reports for its row)
-- not null: alert_threshold, protocol, chain_id
-- shards: multi, the risk tick: every user's latest positions
SELECT p.id, p.user_id, p.wallet_address, p.protocol, p.chain_id, p.health_factor,
       p.collateral, p.debt, p.metadata, p.snapshot_at, p.created_at, p.updated_at,
       coalesce(u.alert_threshold, :default_threshold::numeric) AS alert_threshold
  FROM positions_latest AS p
  JOIN users AS u ON u.id = p.user_id
 WHERE p.health_factor < coalesce(u.alert_threshold, :default_threshold::numeric)
 ORDER BY p.health_factor, p.user_id, p.protocol, p.chain_id;

-- name: positions_iterate_all()
-- Every snapshot in storage order, for exports and projections: no sort, so
-- it streams from the first row however large the table (iterate it).
-- returns: Position
-- replica: ok
-- shards: multi, an export of every snapshot
SELECT id, user_id, wallet_address, protocol, chain_id, health_factor, collateral, debt,
       metadata, snapshot_at, created_at, updated_at
  FROM positions;
