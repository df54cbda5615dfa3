-- Undo 0018.create-wallet-address-type: users.wallet_address is plain text
-- again, compared with letter case.
-- squawk-ignore-file ban-drop-type, ban-drop-function, ban-drop-domain -- drops what 0018 created

DROP TRIGGER users_normalize_wallet_address ON users;

-- squawk-ignore changing-column-type -- back to text from a domain over text: no rewrite
ALTER TABLE users ALTER COLUMN wallet_address TYPE text;

CREATE TRIGGER users_normalize_wallet_address
    BEFORE INSERT OR UPDATE OF wallet_address ON users
    FOR EACH ROW
    EXECUTE FUNCTION normalize_wallet_address();

COMMENT ON TRIGGER users_normalize_wallet_address ON users IS
    'Lower-cases wallet_address before the CHECK and UNIQUE constraints see it.';

DROP OPERATOR = (wallet_address, wallet_address);
DROP FUNCTION wallet_address_equal(wallet_address, wallet_address);
DROP DOMAIN wallet_address;
