-- Migrations run as the schema's owner; the services should not. Two roles,
-- without LOGIN, that the services' own login roles are made members of (see
-- the README):
--   defi_app     acts for one user at a time (row-level security, 0015): reads
--                and writes users, positions, alerts and intents, reads
--                signals, appends events and reads them back;
--   defi_worker  back-office work across all users (sign-up and look-up by
--                wallet, ingest, fan-out, delivery, intent checks): the same
--                tables, every row (BYPASSRLS), and signals too.
-- Neither owns anything, so neither can ALTER, DROP or TRUNCATE a table, and
-- neither may UPDATE or DELETE an event. Roles belong to the whole cluster:
-- they are created only if missing, and a rollback leaves them in place.
-- depends: 0013.validate-alert-lease-checks

DO $$
BEGIN
    BEGIN
        IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'defi_app') THEN
            CREATE ROLE defi_app NOLOGIN;
        END IF;
    EXCEPTION WHEN unique_violation OR duplicate_object THEN
        NULL;  -- created at the same moment for another database of the cluster
    END;
    BEGIN
        IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'defi_worker') THEN
            CREATE ROLE defi_worker NOLOGIN BYPASSRLS;
        END IF;
    EXCEPTION WHEN unique_violation OR duplicate_object THEN
        NULL;
    END;
    IF NOT (SELECT rolbypassrls FROM pg_roles WHERE rolname = 'defi_worker') THEN
        RAISE EXCEPTION 'the role defi_worker exists without BYPASSRLS: have a superuser '
                        'run ALTER ROLE defi_worker BYPASSRLS, then migrate again';
    END IF;
EXCEPTION WHEN insufficient_privilege THEN
    RAISE EXCEPTION 'the migrating role may not create the roles defi_app and defi_worker: '
                    'have a superuser run CREATE ROLE defi_app NOLOGIN; CREATE ROLE '
                    'defi_worker NOLOGIN BYPASSRLS; then migrate again';
END
$$;

GRANT SELECT, INSERT, UPDATE, DELETE ON users, positions, alerts, intents
    TO defi_app, defi_worker;

GRANT SELECT ON signals TO defi_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON signals TO defi_worker;

-- Appending reads the stream's version (archived events included) and returns
-- the stored event; the triggers of 0007 refuse UPDATE and DELETE even to the owner.
GRANT SELECT, INSERT ON event_store TO defi_app, defi_worker;
GRANT SELECT ON event_store_archive TO defi_app, defi_worker;

-- Archiving deletes from event_store: it is the owner's maintenance, nobody else's.
REVOKE EXECUTE ON FUNCTION archive_events(timestamptz) FROM PUBLIC;
