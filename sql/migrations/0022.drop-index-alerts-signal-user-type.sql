-- The old unique rule of 0008, (signal, user, type), refused a second alert on
-- another channel; 0020's index, with the channel, replaces it.
-- depends: 0021.comment-indexes-wallet-lower-alerts-channel
-- transactional: false

DROP INDEX CONCURRENTLY IF EXISTS alerts_signal_id_user_id_type_key;
