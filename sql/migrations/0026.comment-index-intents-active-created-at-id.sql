-- The comment of 0025's index (a non-transactional migration holds its one
-- statement only). The comment of the index 0027 drops is cleared here, in a
-- transaction, so that undoing 0027 (which builds the index again,
-- CONCURRENTLY and uncommented) and then this migration restores it exactly.
-- depends: 0025.create-index-intents-active-created-at-id

COMMENT ON INDEX intents_active_created_at_id_idx IS
    'Partial index over active intents only, in due_intents'' order (created_at, then id): serves the evaluator''s scan of all active intents.';

COMMENT ON INDEX intents_active_created_at_idx IS NULL;
