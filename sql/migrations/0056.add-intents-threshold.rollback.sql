-- Undo 0056.add-intents-threshold: the condition's value is read from condition again.
-- squawk-ignore-file ban-drop-column -- the rollback of an ADD COLUMN drops it

ALTER TABLE intents DROP COLUMN threshold;
