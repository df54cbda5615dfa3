-- Undo 0023.add-positions-write-seq: ties of snapshot_at are broken by id only.
-- squawk-ignore-file ban-drop-column -- removes exactly what 0023 added

ALTER TABLE positions DROP COLUMN write_seq;
