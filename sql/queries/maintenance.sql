-- Maintenance: the schema owner's housekeeping, run by `defi-sql maintain` or
-- by a worker calling maintenance.run on an owner's connection.
-- role: owner

-- name: maintenance_partitions()
-- Every partition of positions with its range (positions_partitions, 0046):
-- NULL for an unbounded end; the default partition last, both ends NULL.
-- returns: Partition
-- not null: partition_name, is_default
SELECT partition_name, is_default, range_start, range_end
  FROM positions_partitions();

-- name: maintenance_make_partitions(width, until)
-- Partitions of positions made ahead, contiguous after the last one, until one
-- covers until (positions_make_partitions, 0046); the snapshots of each new
-- range move out of the default partition.
-- returns: PartitionMade
-- not null: partition_name, range_start, range_end, moved
-- shards: multi, maintenance of every user's snapshots (positions_make_partitions)
SELECT partition_name, range_start, range_end, moved
  FROM positions_make_partitions(:width::interval, :until);

-- name: maintenance_waiting()^
-- The snapshots in the default partition: dated beyond every partition made.
-- returns: Waiting
-- not null: snapshots
-- shards: multi, maintenance: the snapshots of the default partition, every user's
SELECT count(*) AS snapshots, min(snapshot_at) AS earliest, max(snapshot_at) AS latest
  FROM partitions.positions_default;

-- name: maintenance_roll_up(range_start, range_end)$
-- Retention, first step: the snapshots of a partition's range rolled up into
-- positions_daily while writers go on (positions_roll_up, 0047); how many days.
-- returns: int
-- not null: positions_roll_up
-- shards: multi, retention of every user's snapshots (positions_roll_up)
SELECT positions_roll_up(:range_start, :range_end);

-- name: maintenance_detach_partition(partition_name)
-- Retention, second step: the partition detached and the latest snapshots it
-- held read again (positions_detach_partition, 0047). No row when it is
-- detached already.
-- returns: Partition
-- not null: partition_name
-- shards: multi, retention of every user's snapshots (positions_detach_partition)
SELECT partition_name, false AS is_default, range_start, range_end
  FROM positions_detach_partition(:partition_name);

-- name: maintenance_detached()
-- The detached partitions waiting to be rolled up and dropped
-- (positions_detached, 0047); a detached table has no range any more.
-- returns: Partition
-- not null: partition_name, is_default
SELECT name AS partition_name, false AS is_default,
       NULL::timestamptz AS range_start, NULL::timestamptz AS range_end
  FROM positions_detached() AS name;

-- name: maintenance_drop_detached(partition_name)
-- Retention, last step: a detached partition rolled up again (a snapshot
-- written late into its range counted too) and dropped
-- (positions_drop_detached, 0047). No row when it is gone already.
-- returns: PartitionRetired
-- not null: partition_name, snapshots, days
-- shards: multi, retention of every user's snapshots (positions_drop_detached)
SELECT partition_name, snapshots, days
  FROM positions_drop_detached(:partition_name);

-- name: maintenance_lock_timeout(timeout)$
-- How long a maintenance step waits for a lock, for the rest of its
-- transaction: a DETACH waiting behind a long transaction on positions would
-- hold every writer up behind it; it gives up instead, and is tried again.
-- returns: str
-- not null: set_config
SELECT set_config('lock_timeout', :timeout, true);
