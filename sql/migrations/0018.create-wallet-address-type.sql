-- Wallets hand out EIP-55 checksummed (mixed-case) addresses, and the
-- TypeScript app looks users up with the address as it has it:
-- UserModel.findBy('walletAddress', '0xAbC...'). users.wallet_address is
-- stored in lower case (trigger users_normalize_wallet_address), so a plain
-- text comparison found nothing. The column becomes the domain wallet_address,
-- whose = operator ignores letter case: `wallet_address = '0xAbC...'` (a
-- literal, or a parameter sent untyped, as node-postgres and psycopg send
-- them) finds the user. citext or a case-insensitive ICU collation would do the
-- same, but neither is available on every server we run on.
-- depends: 0017.validate-document-checks

-- Clients still see text: a domain's values are sent with its base type's OID.
-- What stays case-sensitive: a comparison with a value of type text
-- (`= $1::text`), IN lists and `= ANY(array)`, which resolve to text's own =.
CREATE DOMAIN wallet_address AS text;

COMMENT ON DOMAIN wallet_address IS
    'An EVM address as text whose = ignores letter case (see operator =(wallet_address, wallet_address)); the tables'' CHECKs keep what is stored in lower case.';

CREATE FUNCTION wallet_address_equal(wallet_address, wallet_address) RETURNS boolean
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    RETURN lower($1::text) = lower($2::text);

COMMENT ON FUNCTION wallet_address_equal(wallet_address, wallet_address) IS
    'Equality of two wallet addresses ignoring letter case; inlined by the planner as lower(a) = lower(b), which users_wallet_address_lower_idx serves.';

CREATE OPERATOR = (
    LEFTARG = wallet_address,
    RIGHTARG = wallet_address,
    FUNCTION = wallet_address_equal,
    COMMUTATOR = =
);

COMMENT ON OPERATOR = (wallet_address, wallet_address) IS
    'Wallet addresses are equal when they differ at most in letter case.';

-- A domain over text without constraints is binary-coercible with text: the
-- table is neither rewritten nor scanned, and its indexes are kept. PostgreSQL
-- refuses to change the type of a column a trigger names (UPDATE OF
-- wallet_address), so the trigger is made again around it, in this transaction.
DROP TRIGGER users_normalize_wallet_address ON users;

-- squawk-ignore changing-column-type -- text to a domain over text: no rewrite, see above
ALTER TABLE users ALTER COLUMN wallet_address TYPE wallet_address;

CREATE TRIGGER users_normalize_wallet_address
    BEFORE INSERT OR UPDATE OF wallet_address ON users
    FOR EACH ROW
    EXECUTE FUNCTION normalize_wallet_address();

COMMENT ON TRIGGER users_normalize_wallet_address ON users IS
    'Lower-cases wallet_address before the CHECK and UNIQUE constraints see it.';
