-- Drop the shared trigger functions created by 0001.create-set-updated-at.

DROP FUNCTION normalize_wallet_address();

DROP FUNCTION set_updated_at();
