-- Subscriptions: named consumers of the event store and their checkpoints.
-- role: defi_worker

-- name: subscriptions_create(name, stream_types)^
-- A new subscription at the start of the store; no row when the name exists.
-- returns: Subscription
-- not null: transaction_id
INSERT INTO event_subscriptions (name, stream_types)
VALUES (:name, :stream_types)
ON CONFLICT (name) DO NOTHING
RETURNING name, stream_types, transaction_id::text::bigint AS transaction_id, position,
          events_handled, created_at, updated_at;

-- name: subscriptions_get(name)^
-- One subscription by name.
-- returns: Subscription
-- not null: transaction_id
-- replica: ok
SELECT name, stream_types, transaction_id::text::bigint AS transaction_id, position,
       events_handled, created_at, updated_at
  FROM event_subscriptions
 WHERE name = :name;

-- name: subscriptions_lock(name)^
-- One subscription by name, locked until the transaction ends: one consumer
-- of a name at a time; a second one waits, then reads the moved checkpoint.
-- returns: Subscription
-- not null: transaction_id
SELECT name, stream_types, transaction_id::text::bigint AS transaction_id, position,
       events_handled, created_at, updated_at
  FROM event_subscriptions
 WHERE name = :name
   FOR UPDATE;

-- name: subscriptions_list_all()
-- Every subscription, by name.
-- returns: Subscription
-- not null: transaction_id
-- replica: ok
SELECT name, stream_types, transaction_id::text::bigint AS transaction_id, position,
       events_handled, created_at, updated_at
  FROM event_subscriptions
 ORDER BY name;

-- name: subscriptions_advance(name, transaction_id, position, handled)^
-- Move a subscription's checkpoint forward (never back) and count the events
-- its handler was given.
-- returns: Subscription
-- not null: transaction_id
UPDATE event_subscriptions
   SET transaction_id = :transaction_id::text::xid8,
       position = :position,
       events_handled = events_handled + :handled,
       updated_at = now()
 WHERE name = :name
   AND (transaction_id, position) <= (:transaction_id::text::xid8, :position::bigint)
RETURNING name, stream_types, transaction_id::text::bigint AS transaction_id, position,
          events_handled, created_at, updated_at;

-- name: subscriptions_reset(name, transaction_id, position)^
-- Put a subscription's checkpoint anywhere, back included (a replay).
-- returns: Subscription
-- not null: transaction_id
UPDATE event_subscriptions
   SET transaction_id = :transaction_id::text::xid8,
       position = :position,
       updated_at = now()
 WHERE name = :name
RETURNING name, stream_types, transaction_id::text::bigint AS transaction_id, position,
          events_handled, created_at, updated_at;

-- name: subscriptions_delete(name)^
-- Forget a subscription and its checkpoint.
-- returns: Subscription
-- not null: transaction_id
DELETE FROM event_subscriptions
 WHERE name = :name
RETURNING name, stream_types, transaction_id::text::bigint AS transaction_id, position,
          events_handled, created_at, updated_at;
