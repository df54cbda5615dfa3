-- Undo 0015.enable-row-level-security: defi_app sees every row of the four
-- tables again (as 0014 alone granted).
-- squawk-ignore-file ban-drop-function -- drops the function 0015 created

DROP POLICY intents_acting_user ON intents;
ALTER TABLE intents DISABLE ROW LEVEL SECURITY;

DROP POLICY alerts_acting_user ON alerts;
ALTER TABLE alerts DISABLE ROW LEVEL SECURITY;

DROP POLICY positions_acting_user ON positions;
ALTER TABLE positions DISABLE ROW LEVEL SECURITY;

DROP POLICY users_acting_user ON users;
ALTER TABLE users DISABLE ROW LEVEL SECURITY;

DROP FUNCTION acting_user_id();
