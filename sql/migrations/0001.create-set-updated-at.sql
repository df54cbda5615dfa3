-- Shared trigger functions, so that the "updated_at" bookkeeping and the
-- wallet-address normalisation rule live in one place in the database
-- instead of being re-implemented (and forgotten) in application code.

CREATE FUNCTION set_updated_at()
RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    NEW.updated_at := now();
    RETURN NEW;
END;
$$;

COMMENT ON FUNCTION set_updated_at() IS
    'Trigger function for BEFORE UPDATE ... FOR EACH ROW triggers: sets NEW.updated_at to now() (the transaction start time). Any updated_at value supplied by the client is overwritten.';

CREATE FUNCTION normalize_wallet_address()
RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    NEW.wallet_address := lower(NEW.wallet_address);
    RETURN NEW;
END;
$$;

COMMENT ON FUNCTION normalize_wallet_address() IS
    'Trigger function for BEFORE INSERT OR UPDATE OF wallet_address ... FOR EACH ROW triggers: stores NEW.wallet_address in lower case so that uniqueness and lookups are case-insensitive. It deliberately does not trim whitespace; the table''s CHECK constraint rejects malformed addresses instead.';
