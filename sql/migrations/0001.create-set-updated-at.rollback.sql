-- Drop the shared trigger functions created by 0001.create-set-updated-at.
-- squawk-ignore-file ban-drop-function -- the rollback of a CREATE FUNCTION must drop it

DROP FUNCTION normalize_wallet_address();

DROP FUNCTION set_updated_at();
