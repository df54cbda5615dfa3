-- The session: whom a defi_app transaction acts for (row-level security, 0015).
-- role: defi_app, defi_worker

-- name: session_act_for_user(user_id)$
-- Act for this user until the transaction ends: set_config(..., true) is
-- transaction-local, so a pooled connection cannot pass it on to its next borrower.
-- replica: ok
-- returns: str
-- not null: set_config
SELECT set_config('defi.user_id', :user_id::text, true);


-- name: session_acting_user()$
-- The defi.user_id setting as it is now ('' when unset), to restore it after a nested acting_as.
-- replica: ok
-- returns: str
SELECT coalesce(current_setting('defi.user_id', true), '');
