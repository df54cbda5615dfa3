-- Undo 0035.create-trigger-alerts-notify: delivery workers find new alerts by
-- polling only.
-- squawk-ignore-file ban-drop-function -- drops the trigger function 0035 added, with its triggers

DROP TRIGGER alerts_notify_requeue ON alerts;
DROP TRIGGER alerts_notify_insert ON alerts;
DROP FUNCTION alerts_notify();
