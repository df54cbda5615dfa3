-- Positions: health-factor snapshots of a wallet on a protocol, many per user.

-- name: list_user_positions(user_id)
-- Every snapshot of a user, newest first (preloading a user's positions).
SELECT id, user_id, wallet_address, protocol, chain_id, health_factor, collateral, debt,
       metadata, snapshot_at, created_at, updated_at
  FROM positions
 WHERE user_id = :user_id
 ORDER BY snapshot_at DESC;
