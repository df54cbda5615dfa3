-- Undo 0014.create-application-roles: this database grants the roles nothing
-- again. The roles themselves stay, since other databases of the cluster may use
-- them and dropping a role would also drop its members' membership; drop them
-- by hand (DROP ROLE defi_app, defi_worker) once no database uses them.

REVOKE ALL ON users, positions, alerts, intents, signals, event_store, event_store_archive
    FROM defi_app, defi_worker;

GRANT EXECUTE ON FUNCTION archive_events(timestamptz) TO PUBLIC;
