-- Say in the schema what users_preferences_active_signals_idx serves: the
-- comment could not go in 0010.create-index-users-active-signals, whose
-- CREATE INDEX CONCURRENTLY must be that migration's only statement.
-- depends: 0010.create-index-users-active-signals

COMMENT ON INDEX users_preferences_active_signals_idx IS
    'GIN (jsonb_ops) on preferences -> ''activeSignals'': serves fan_out_signal, which finds the users subscribed to a signal type with preferences -> ''activeSignals'' ? type. Only a predicate on this very expression (?, ?|, ?&, @>) can use it.';
