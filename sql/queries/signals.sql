-- Signals: market events detected for an asset (funding rate, whale movement, ...).
-- role: defi_worker

-- name: signals_create(type, asset, severity, data, detected_at, expires_at)^
-- Record a detected signal (detected_at defaults to now()).
-- returns: Signal
INSERT INTO signals (type, asset, severity, data, detected_at, expires_at)
VALUES (:type, :asset, :severity, :data, coalesce(:detected_at, now()), :expires_at)
RETURNING id, type, asset, severity, data, detected_at, expires_at, status, created_at;

-- name: signals_get(signal_id)^
-- One signal by id.
-- returns: Signal
-- replica: ok
SELECT id, type, asset, severity, data, detected_at, expires_at, status, created_at
  FROM signals
 WHERE id = :signal_id;

-- name: signals_by_ids(signal_ids)
-- The signals with these ids (preloading the signals of a list of alerts).
-- returns: Signal
-- replica: ok
SELECT id, type, asset, severity, data, detected_at, expires_at, status, created_at
  FROM signals
 WHERE id = ANY(:signal_ids);

-- name: signals_active_for_asset(asset)
-- Active, unexpired signals of one asset, newest first (signals_asset_status_idx).
-- The symbol is matched exactly as written: 'ETH' and 'eth' are two assets.
-- returns: Signal
-- replica: ok
SELECT id, type, asset, severity, data, detected_at, expires_at, status, created_at
  FROM signals
 WHERE asset = :asset
   AND status = 'active'
   AND (expires_at IS NULL OR expires_at > now())
 ORDER BY detected_at DESC, id DESC;

-- name: signals_recent_by_type(type, max_rows)
-- The latest signals of one type, any status, newest first (signals_type_detected_at_idx).
-- returns: Signal
-- replica: ok
SELECT id, type, asset, severity, data, detected_at, expires_at, status, created_at
  FROM signals
 WHERE type = :type
 ORDER BY detected_at DESC, id DESC
 LIMIT :max_rows;

-- name: signals_active(max_rows)
-- Every active, unexpired signal, newest first (signals_status_detected_at_idx).
-- returns: Signal
-- replica: ok
SELECT id, type, asset, severity, data, detected_at, expires_at, status, created_at
  FROM signals
 WHERE status = 'active'
   AND (expires_at IS NULL OR expires_at > now())
 ORDER BY detected_at DESC, id DESC
 LIMIT :max_rows;

-- name: signals_expire_overdue()!
-- Mark active signals past their expires_at as expired (the seed's clean-up).
UPDATE signals
   SET status = 'expired'
 WHERE status = 'active'
   AND expires_at <= now();

-- name: signals_acknowledge(signal_id)^
-- Mark a signal acknowledged (from active or already acknowledged).
-- returns: Signal
UPDATE signals
   SET status = 'acknowledged'
 WHERE id = :signal_id
   AND status IN ('active', 'acknowledged')
RETURNING id, type, asset, severity, data, detected_at, expires_at, status, created_at;
