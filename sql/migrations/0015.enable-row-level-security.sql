-- defi_app acts for one user at a time: the service sets defi.user_id for the
-- transaction (set_config(..., true), which a pooled connection cannot carry
-- over to its next borrower), and row-level security limits every read and
-- write of users, positions, alerts and intents to that user's rows. Without
-- the setting no row is visible and none can be written. The owner and
-- defi_worker (BYPASSRLS) see every row, as before.
-- depends: 0014.create-application-roles

CREATE FUNCTION acting_user_id() RETURNS uuid
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$ SELECT nullif(current_setting('defi.user_id', true), '')::uuid $$;

COMMENT ON FUNCTION acting_user_id() IS
    'The user this transaction acts for (the defi.user_id setting), or NULL when none is set.';

ALTER TABLE users ENABLE ROW LEVEL SECURITY;
CREATE POLICY users_acting_user ON users TO defi_app
    USING (id = acting_user_id())
    WITH CHECK (id = acting_user_id());

ALTER TABLE positions ENABLE ROW LEVEL SECURITY;
CREATE POLICY positions_acting_user ON positions TO defi_app
    USING (user_id = acting_user_id())
    WITH CHECK (user_id = acting_user_id());

ALTER TABLE alerts ENABLE ROW LEVEL SECURITY;
CREATE POLICY alerts_acting_user ON alerts TO defi_app
    USING (user_id = acting_user_id())
    WITH CHECK (user_id = acting_user_id());

ALTER TABLE intents ENABLE ROW LEVEL SECURITY;
CREATE POLICY intents_acting_user ON intents TO defi_app
    USING (user_id = acting_user_id())
    WITH CHECK (user_id = acting_user_id());

COMMENT ON POLICY users_acting_user ON users IS
    'defi_app sees and writes only the user row of the user it acts for.';
COMMENT ON POLICY positions_acting_user ON positions IS
    'defi_app sees and writes only the positions of the user it acts for.';
COMMENT ON POLICY alerts_acting_user ON alerts IS
    'defi_app sees and writes only the alerts of the user it acts for.';
COMMENT ON POLICY intents_acting_user ON intents IS
    'defi_app sees and writes only the intents of the user it acts for.';
