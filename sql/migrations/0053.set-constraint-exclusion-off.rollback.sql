-- Undo 0053.set-constraint-exclusion-off: new sessions of this database use the
-- server's constraint_exclusion again.

DO $$
BEGIN
    EXECUTE format('ALTER DATABASE %I RESET constraint_exclusion', current_database());
EXCEPTION WHEN insufficient_privilege THEN
    RAISE EXCEPTION 'the migrating role may not change the settings of database %: have its '
                    'owner run ALTER DATABASE % RESET constraint_exclusion; then roll back '
                    'again', current_database(), quote_ident(current_database());
END
$$;
