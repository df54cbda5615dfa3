-- Drop the event store, its archive and the functions created by 0007.create-event-store.
-- squawk-ignore-file ban-drop-table, ban-drop-function -- the rollback of CREATE TABLE and
-- CREATE FUNCTION statements must drop what they created

DROP FUNCTION archive_events(timestamptz);

DROP TABLE event_store_archive;

DROP TABLE event_store;

DROP FUNCTION event_store_forbid_change();
