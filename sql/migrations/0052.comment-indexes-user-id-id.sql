-- 0052.comment-indexes-user-id-id: say in the schema why alerts and intents
-- have a second unique key (0050, 0051), which no query reads by yet.
-- depends: 0051.create-index-intents-user-id-id

COMMENT ON INDEX alerts_user_id_id_key IS
    'Unique (user_id, id): the primary key once alerts is distributed by user_id (docs/scale-out.md: a distributed table''s unique keys hold its distribution column); until then the primary key is on id.';
COMMENT ON INDEX intents_user_id_id_key IS
    'Unique (user_id, id): the primary key once intents is distributed by user_id (docs/scale-out.md: a distributed table''s unique keys hold its distribution column); until then the primary key is on id.';
