--
-- PostgreSQL database dump
--

--
-- Name: partitions; Type: SCHEMA; Schema: -; Owner: -
--

CREATE SCHEMA partitions;

--
-- Name: SCHEMA partitions; Type: COMMENT; Schema: -; Owner: -
--

COMMENT ON SCHEMA partitions IS 'The partitions of partitioned tables (positions), made and retired by defi-sql maintain; reached only through their parent.';

--
-- Name: wallet_address; Type: DOMAIN; Schema: public; Owner: -
--

CREATE DOMAIN public.wallet_address AS text;

--
-- Name: DOMAIN wallet_address; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON DOMAIN public.wallet_address IS 'An EVM address as text whose = ignores letter case (see operator =(wallet_address, wallet_address)); the tables'' CHECKs keep what is stored in lower case.';

--
-- Name: acting_user_id(); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.acting_user_id() RETURNS uuid
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$ SELECT nullif(current_setting('defi.user_id', true), '')::uuid $$;

--
-- Name: FUNCTION acting_user_id(); Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON FUNCTION public.acting_user_id() IS 'The user this transaction acts for (the defi.user_id setting), or NULL when none is set.';

--
-- Name: alerts_notify(); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.alerts_notify() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    PERFORM pg_advisory_xact_lock_shared(110386672631812);
    IF pg_try_advisory_xact_lock(110386672631813) THEN
        PERFORM pg_notify('defi_alerts', '');
    END IF;
    RETURN NULL;
END;
$$;

--
-- Name: FUNCTION alerts_notify(); Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON FUNCTION public.alerts_notify() IS 'Trigger function: marks an alert-queueing transaction in flight (shared advisory lock 110386672631812, until it ends) and notifies channel defi_alerts if no other open transaction is the notifier (advisory lock 110386672631813). A hint for waiting delivery workers, not the queue: they still claim, and claim again soon while alerts_unsettled says a writer is in flight (0036).';

--
-- Name: archive_events(timestamp with time zone); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.archive_events(cutoff timestamp with time zone) RETURNS bigint
    LANGUAGE plpgsql
    AS $$
DECLARE
    moved_count bigint;
BEGIN
    IF cutoff IS NULL THEN
        RAISE EXCEPTION USING
            ERRCODE = 'null_value_not_allowed',
            MESSAGE = 'archive_events: cutoff must not be NULL';
    END IF;

    PERFORM set_config('defi_sql.archiving', 'on', true);

    WITH moved AS (
        DELETE FROM event_store
        WHERE recorded_at < cutoff
        RETURNING position, event_id, stream_type, stream_id, version,
                  event_type, payload, metadata, occurred_at, recorded_at,
                  transaction_id, owner_id
    )
    INSERT INTO event_store_archive (
        position, event_id, stream_type, stream_id, version,
        event_type, payload, metadata, occurred_at, recorded_at,
        transaction_id, owner_id
    )
    SELECT position, event_id, stream_type, stream_id, version,
           event_type, payload, metadata, occurred_at, recorded_at,
           transaction_id, owner_id
    FROM moved;

    GET DIAGNOSTICS moved_count = ROW_COUNT;

    PERFORM set_config('defi_sql.archiving', 'off', true);

    RETURN moved_count;
END;
$$;

--
-- Name: FUNCTION archive_events(cutoff timestamp with time zone); Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON FUNCTION public.archive_events(cutoff timestamp with time zone) IS 'Moves every event with recorded_at < cutoff from event_store to event_store_archive in one statement and returns the number of events moved. Idempotent: events already archived are no longer in event_store, so a repeated call moves nothing. Note that archived events leave the scope of event_store''s UNIQUE (event_id) and (stream_id, version) constraints; archive only streams that will not be appended to again.';

--
-- Name: event_store_forbid_change(); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.event_store_forbid_change() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    -- archive_events() sets defi_sql.archiving = 'on' (transaction-local)
    -- while it moves rows; only its DELETEs are let through.
    IF TG_OP = 'DELETE' AND TG_TABLE_NAME = 'event_store'
       AND current_setting('defi_sql.archiving', true) = 'on' THEN
        RETURN OLD;
    END IF;

    RAISE EXCEPTION USING
        ERRCODE = 'restrict_violation',
        MESSAGE = format('%I is append-only: events cannot be updated or deleted', TG_TABLE_NAME),
        DETAIL  = format('%s on %I was rejected.', TG_OP, TG_TABLE_NAME),
        HINT    = 'archive old events with SELECT archive_events(cutoff)';
END;
$$;

--
-- Name: FUNCTION event_store_forbid_change(); Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON FUNCTION public.event_store_forbid_change() IS 'Trigger function that makes event_store and event_store_archive append-only: raises restrict_violation (SQLSTATE 23001) on UPDATE, DELETE and TRUNCATE. The only exception is a row DELETE from event_store while defi_sql.archiving = ''on'', which archive_events() sets for its own transaction. This guards against mistakes, not against a role that can set the parameter or disable triggers.';

--
-- Name: event_store_notify(); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.event_store_notify() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    PERFORM pg_advisory_xact_lock_shared(110386672631810);
    IF pg_try_advisory_xact_lock(110386672631811) THEN
        PERFORM pg_notify('defi_events', '');
    END IF;
    RETURN NULL;
END;
$$;

--
-- Name: FUNCTION event_store_notify(); Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON FUNCTION public.event_store_notify() IS 'Trigger function: marks an appending transaction in flight (shared advisory lock 110386672631810, until it ends) and notifies channel defi_events if no other open transaction is the notifier (advisory lock 110386672631811): notifying commits are serialised by PostgreSQL, one notifier at a time is not. A hint for waiting consumers, not the queue: they still read from their checkpoint, and poll again soon while events_unsettled says a writer is in flight (0036).';

--
-- Name: event_store_stream_owner(); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.event_store_stream_owner() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public'
    AS $$
DECLARE
    stream_owner uuid;
    known boolean;
BEGIN
    -- whatever the writer sent: the order consumers rely on is the database's
    NEW.transaction_id := pg_current_xact_id();
    SELECT owner_id, true INTO stream_owner, known
      FROM event_store
     WHERE stream_id = NEW.stream_id AND version = 1;
    IF known IS NULL THEN
        SELECT owner_id, true INTO stream_owner, known
          FROM event_store_archive
         WHERE stream_id = NEW.stream_id AND version = 1;
    END IF;
    IF known IS NULL THEN  -- a new stream: its first event decides
        RETURN NEW;
    END IF;
    IF NEW.owner_id IS NULL THEN  -- nobody acted for: the stream's owner stays
        NEW.owner_id := stream_owner;
    ELSIF NEW.owner_id IS DISTINCT FROM stream_owner THEN
        RAISE EXCEPTION USING
            ERRCODE = 'insufficient_privilege',
            MESSAGE = format('stream %s belongs to another owner', NEW.stream_id),
            HINT = 'append to a stream only while acting for the user who owns it';
    END IF;
    RETURN NEW;
END;
$$;

--
-- Name: FUNCTION event_store_stream_owner(); Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON FUNCTION public.event_store_stream_owner() IS 'Trigger function: an appended event gets its transaction''s id (pg_current_xact_id(), whatever the writer sent), takes its stream''s owner (the owner_id of version 1, in event_store or the archive) when nobody is acted for, and an event acting for another user is refused (insufficient_privilege). SECURITY DEFINER: it must see the stream''s first event whatever row-level security hides from the appender.';

--
-- Name: is_asset_list(jsonb); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.is_asset_list(assets jsonb) RETURNS boolean
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN ((jsonb_typeof(assets) = 'array'::text) AND (NOT jsonb_path_exists(assets, 'strict $[*]?(@.type() != "object")'::jsonpath)) AND (NOT jsonb_path_exists(assets, '$[*]?((((@.type() != "object" || !(@."symbol".type() == "string")) || @."symbol" == "") || !(@."amount".type() == "number" && @."amount" >= 0 || @."amount".type() == "string" && @."amount" like_regex "^[0-9]+(\\.[0-9]+)?([eE][+-]?[0-9]{1,3})?$")) || !(@."valueUSD".type() == "number" && @."valueUSD" >= 0 || @."valueUSD".type() == "string" && @."valueUSD" like_regex "^[0-9]+(\\.[0-9]+)?([eE][+-]?[0-9]{1,3})?$"))'::jsonpath)));

--
-- Name: FUNCTION is_asset_list(assets jsonb); Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON FUNCTION public.is_asset_list(assets jsonb) IS 'True when assets is a JSON array of {"symbol": non-empty string, "amount": decimal, "valueUSD": decimal} objects (other keys allowed), the shape of positions.collateral and positions.debt.';

--
-- Name: is_json_decimal(jsonb); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.is_json_decimal(value jsonb) RETURNS boolean
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN CASE jsonb_typeof(value) WHEN 'number'::text THEN ((value)::numeric >= (0)::numeric) WHEN 'string'::text THEN ((length((value #>> '{}'::text[])) <= 255) AND ((value #>> '{}'::text[]) ~ '^[0-9]+(\.[0-9]+)?([eE][+-]?[0-9]{1,3})?$'::text)) ELSE false END;

--
-- Name: FUNCTION is_json_decimal(value jsonb); Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON FUNCTION public.is_json_decimal(value jsonb) IS 'True when value is a decimal >= 0 as defi-sql reads it: a JSON number, or a JSON string of at most 255 characters, digits with an optional fraction and exponent ("1.5", "2E+1"), which numeric always holds. False for anything else, NULL included.';

--
-- Name: is_json_within_depth(jsonb); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.is_json_within_depth(document jsonb) RETURNS boolean
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN (NOT jsonb_path_exists(document, '$.**{32 to last}'::jsonpath));

--
-- Name: FUNCTION is_json_within_depth(document jsonb); Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON FUNCTION public.is_json_within_depth(document jsonb) IS 'True when no value in document is nested 32 levels or more below it (the document itself is level 0; each object member and array element one more): defi_sql.validate.MAX_DEPTH, and far below what a JSON decoder''s recursion allows.';

--
-- Name: json_decimal(jsonb); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.json_decimal(value jsonb) RETURNS numeric
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN CASE WHEN public.is_json_decimal(value) THEN ((value #>> '{}'::text[]))::numeric ELSE NULL::numeric END;

--
-- Name: FUNCTION json_decimal(value jsonb); Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON FUNCTION public.json_decimal(value jsonb) IS 'The decimal a JSON value holds when is_json_decimal(value) (a number >= 0, or a string of digits with optional fraction and exponent), else NULL: how every query reads thresholds and intent values, the way defi_sql.models reads them.';

--
-- Name: normalize_wallet_address(); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.normalize_wallet_address() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    NEW.wallet_address := lower(NEW.wallet_address);
    RETURN NEW;
END;
$$;

--
-- Name: FUNCTION normalize_wallet_address(); Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON FUNCTION public.normalize_wallet_address() IS 'Trigger function for BEFORE INSERT OR UPDATE OF wallet_address ... FOR EACH ROW triggers: stores NEW.wallet_address in lower case so that uniqueness and lookups are case-insensitive. It deliberately does not trim whitespace; the table''s CHECK constraint rejects malformed addresses instead.';

--
-- Name: positions_detach_partition(text); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.positions_detach_partition(name text) RETURNS TABLE(partition_name text, range_start timestamp with time zone, range_end timestamp with time zone)
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'public'
    AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(x'646566690006'::bigint);
    SELECT p.range_start, p.range_end INTO range_start, range_end
      FROM positions_partitions() AS p
     WHERE p.partition_name = name AND NOT p.is_default;
    IF NOT FOUND THEN
        RETURN;  -- detached already (or never there)
    END IF;
    IF range_end IS NULL THEN
        RAISE EXCEPTION 'partition % has no end: retention never drops it', name
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    partition_name := name;
    EXECUTE format('ALTER TABLE positions DETACH PARTITION partitions.%I', name);
    -- the latest snapshots it held: read again from what is left
    PERFORM positions_latest_refresh(array_agg(l.user_id), array_agg(l.protocol),
                                     array_agg(l.chain_id))
       FROM positions_latest AS l
      WHERE l.snapshot_at >= coalesce(range_start, '-infinity')
        AND l.snapshot_at < range_end;
    RETURN NEXT;
END;
$$;

--
-- Name: FUNCTION positions_detach_partition(name text); Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON FUNCTION public.positions_detach_partition(name text) IS 'Retention, second step: detaches a partition of positions and reads the latest snapshots it held again from the rest (positions_latest_refresh). Nothing when it is detached already. Under the maintenance lock (advisory 0x646566690006).';

--
-- Name: positions_detached(); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.positions_detached() RETURNS SETOF text
    LANGUAGE sql STABLE
    SET search_path TO 'pg_catalog', 'public'
    AS $$
    SELECT c.relname::text
      FROM pg_class AS c
     WHERE c.relnamespace = 'partitions'::regnamespace
       AND c.relkind = 'r'
       AND starts_with(c.relname, 'positions_')
       AND NOT c.relispartition
     ORDER BY 1;
$$;

--
-- Name: FUNCTION positions_detached(); Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON FUNCTION public.positions_detached() IS 'The tables of the schema partitions named positions_* that are no partition of positions: detached by retention, waiting for positions_drop_detached.';

--
-- Name: positions_drop_detached(text); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.positions_drop_detached(name text) RETURNS TABLE(partition_name text, snapshots bigint, days bigint)
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'public'
    AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(x'646566690006'::bigint);
    IF name NOT IN (SELECT positions_detached()) THEN
        RETURN;  -- dropped already, or still a partition
    END IF;
    partition_name := name;
    EXECUTE format('SELECT count(*) FROM partitions.%I', name) INTO snapshots;
    days := positions_roll_up(NULL, NULL, format('partitions.%I', name)::regclass);
    EXECUTE format('DROP TABLE partitions.%I', name);
    RETURN NEXT;
END;
$$;

--
-- Name: FUNCTION positions_drop_detached(name text); Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON FUNCTION public.positions_drop_detached(name text) IS 'Retention, last step: rolls up every snapshot of a detached partition (no writer reaches it any more) and drops it. Returns it, its snapshots and the days written; nothing when it is gone already.';

--
-- Name: positions_latest_delete(); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.positions_latest_delete() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public'
    AS $$
BEGIN
    PERFORM positions_latest_refresh(array_agg(user_id), array_agg(protocol), array_agg(chain_id))
       FROM (SELECT DISTINCT user_id, protocol, chain_id FROM old_rows) AS touched;
    RETURN NULL;
END;
$$;

--
-- Name: FUNCTION positions_latest_delete(); Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON FUNCTION public.positions_latest_delete() IS 'Trigger function (AFTER DELETE ... FOR EACH STATEMENT, transition table old_rows): refreshes every key the statement touched.';

--
-- Name: positions_latest_insert(); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.positions_latest_insert() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public'
    AS $$
BEGIN
    -- in key order, so that two writers of the same keys lock them in one order
    INSERT INTO positions_latest AS l
           (user_id, protocol, chain_id, id, wallet_address, health_factor, collateral,
            debt, metadata, snapshot_at, created_at, updated_at, write_seq)
    SELECT DISTINCT ON (user_id, protocol, chain_id)
           user_id, protocol, chain_id, id, wallet_address, health_factor, collateral,
           debt, metadata, snapshot_at, created_at, updated_at, write_seq
      FROM inserted
     ORDER BY user_id, protocol, chain_id, snapshot_at DESC, write_seq DESC NULLS LAST, id DESC
        ON CONFLICT (user_id, protocol, chain_id) DO UPDATE
       SET id = excluded.id, wallet_address = excluded.wallet_address,
           health_factor = excluded.health_factor, collateral = excluded.collateral,
           debt = excluded.debt, metadata = excluded.metadata,
           snapshot_at = excluded.snapshot_at, created_at = excluded.created_at,
           updated_at = excluded.updated_at, write_seq = excluded.write_seq
     WHERE (excluded.snapshot_at, excluded.write_seq IS NOT NULL,
            coalesce(excluded.write_seq, 0), excluded.id)
         > (l.snapshot_at, l.write_seq IS NOT NULL, coalesce(l.write_seq, 0), l.id);
    RETURN NULL;
END;
$$;

--
-- Name: FUNCTION positions_latest_insert(); Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON FUNCTION public.positions_latest_insert() IS 'Trigger function (AFTER INSERT ... FOR EACH STATEMENT, transition table inserted): upserts the newest inserted snapshot of each key into positions_latest, replacing the stored one only if newer.';

--
-- Name: positions_latest_refresh(uuid[], text[], bigint[]); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.positions_latest_refresh(user_ids uuid[], protocols text[], chain_ids bigint[]) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public'
    AS $$
BEGIN
    DELETE FROM positions_latest AS l
     USING unnest(user_ids, protocols, chain_ids) AS k (user_id, protocol, chain_id)
     WHERE l.user_id = k.user_id
       AND l.protocol IS NOT DISTINCT FROM k.protocol
       AND l.chain_id IS NOT DISTINCT FROM k.chain_id;
    INSERT INTO positions_latest AS l
           (user_id, protocol, chain_id, id, wallet_address, health_factor, collateral,
            debt, metadata, snapshot_at, created_at, updated_at, write_seq)
    SELECT p.user_id, p.protocol, p.chain_id, p.id, p.wallet_address, p.health_factor,
           p.collateral, p.debt, p.metadata, p.snapshot_at, p.created_at, p.updated_at,
           p.write_seq
      FROM (SELECT DISTINCT * FROM unnest(user_ids, protocols, chain_ids)) AS k (user_id, protocol, chain_id)
     CROSS JOIN LATERAL (
            SELECT *
              FROM positions
             WHERE positions.user_id = k.user_id
               AND positions.protocol IS NOT DISTINCT FROM k.protocol
               AND positions.chain_id IS NOT DISTINCT FROM k.chain_id
             ORDER BY snapshot_at DESC, write_seq DESC NULLS LAST, id DESC
             LIMIT 1
           ) AS p
     ORDER BY p.user_id, p.protocol, p.chain_id
        ON CONFLICT (user_id, protocol, chain_id) DO UPDATE
       SET id = excluded.id, wallet_address = excluded.wallet_address,
           health_factor = excluded.health_factor, collateral = excluded.collateral,
           debt = excluded.debt, metadata = excluded.metadata,
           snapshot_at = excluded.snapshot_at, created_at = excluded.created_at,
           updated_at = excluded.updated_at, write_seq = excluded.write_seq
     WHERE (excluded.snapshot_at, excluded.write_seq IS NOT NULL,
            coalesce(excluded.write_seq, 0), excluded.id)
         > (l.snapshot_at, l.write_seq IS NOT NULL, coalesce(l.write_seq, 0), l.id);
END;
$$;

--
-- Name: FUNCTION positions_latest_refresh(user_ids uuid[], protocols text[], chain_ids bigint[]); Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON FUNCTION public.positions_latest_refresh(user_ids uuid[], protocols text[], chain_ids bigint[]) IS 'Reads the newest snapshot of each given (user_id, protocol, chain_id) again from positions into positions_latest, and removes the keys that have none left. For the UPDATE and DELETE triggers, and for maintenance that removes snapshots without DELETE (dropping a partition).';

--
-- Name: positions_latest_truncate(); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.positions_latest_truncate() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public'
    AS $$
BEGIN
    -- DELETE, not TRUNCATE: a TRUNCATE users CASCADE has positions_latest open
    -- already (and empties it itself), and refuses a TRUNCATE of it from here
    DELETE FROM positions_latest;
    RETURN NULL;
END;
$$;

--
-- Name: FUNCTION positions_latest_truncate(); Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON FUNCTION public.positions_latest_truncate() IS 'Trigger function (AFTER TRUNCATE): empties positions_latest with positions (by DELETE: a TRUNCATE ... CASCADE may be emptying it already).';

--
-- Name: positions_latest_update(); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.positions_latest_update() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public'
    AS $$
BEGIN
    PERFORM positions_latest_refresh(array_agg(user_id), array_agg(protocol), array_agg(chain_id))
       FROM (SELECT user_id, protocol, chain_id FROM old_rows
             UNION
             SELECT user_id, protocol, chain_id FROM new_rows) AS touched;
    RETURN NULL;
END;
$$;

--
-- Name: FUNCTION positions_latest_update(); Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON FUNCTION public.positions_latest_update() IS 'Trigger function (AFTER UPDATE ... FOR EACH STATEMENT, transition tables old_rows and new_rows): refreshes every key the statement touched, before and after.';

--
-- Name: positions_make_partitions(interval, timestamp with time zone); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.positions_make_partitions(width interval, until timestamp with time zone) RETURNS TABLE(partition_name text, range_start timestamp with time zone, range_end timestamp with time zone, moved bigint)
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'public'
    SET "TimeZone" TO 'UTC'
    AS $$
BEGIN
    IF width IS NULL OR width NOT IN (interval '1 month', interval '7 days', interval '1 day') THEN
        RAISE EXCEPTION 'partition width must be 1 month, 7 days or 1 day, not %', width
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    PERFORM pg_advisory_xact_lock(x'646566690006'::bigint);
    SELECT max(p.range_end) INTO range_start
      FROM positions_partitions() AS p
     WHERE NOT p.is_default;
    IF range_start IS NULL THEN
        RETURN;  -- the last range partition goes up to MAXVALUE: nothing to add after it
    END IF;
    WHILE range_start <= until LOOP
        range_end := range_start + width;
        partition_name := 'positions_' || to_char(
            range_start, CASE WHEN width = interval '1 month' THEN 'YYYY_MM' ELSE 'YYYY_MM_DD' END);
        -- the range's snapshots waiting in the default partition move first:
        -- PostgreSQL refuses a partition whose rows are still in the default one
        EXECUTE format('CREATE TABLE partitions.%I '
                       '(LIKE positions INCLUDING DEFAULTS INCLUDING CONSTRAINTS)',
                       partition_name);
        EXECUTE format('WITH waiting AS (DELETE FROM partitions.positions_default '
                       'WHERE snapshot_at >= %L AND snapshot_at < %L RETURNING *) '
                       'INSERT INTO partitions.%I SELECT * FROM waiting',
                       range_start, range_end, partition_name);
        GET DIAGNOSTICS moved = ROW_COUNT;
        EXECUTE format('ALTER TABLE positions ATTACH PARTITION partitions.%I '
                       'FOR VALUES FROM (%L) TO (%L)', partition_name, range_start, range_end);
        RETURN NEXT;
        range_start := range_end;
    END LOOP;
END;
$$;

--
-- Name: FUNCTION positions_make_partitions(width interval, until timestamp with time zone); Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON FUNCTION public.positions_make_partitions(width interval, until timestamp with time zone) IS 'Adds partitions of positions of the given width (1 month, 7 days or 1 day of UTC), each starting where the last ended, until one covers until; moves the snapshots of each new range out of the default partition. Returns each partition made, with the snapshots it took over. Idempotent: run twice at once, the second waits (advisory lock 0x646566690006) and makes none.';

--
-- Name: positions_partitions(); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.positions_partitions() RETURNS TABLE(partition_name text, is_default boolean, range_start timestamp with time zone, range_end timestamp with time zone)
    LANGUAGE sql STABLE
    SET search_path TO 'pg_catalog', 'public'
    AS $_$
    SELECT c.relname::text,
           b.bounds IS NULL,
           CASE WHEN b.bounds[1] <> 'MINVALUE' THEN btrim(b.bounds[1], '''')::timestamptz END,
           CASE WHEN b.bounds[2] <> 'MAXVALUE' THEN btrim(b.bounds[2], '''')::timestamptz END
      FROM pg_inherits AS i
      JOIN pg_class AS c ON c.oid = i.inhrelid
     CROSS JOIN LATERAL (
            SELECT regexp_match(pg_get_expr(c.relpartbound, c.oid),
                                '^FOR VALUES FROM \((.+)\) TO \((.+)\)$') AS bounds
           ) AS b
     WHERE i.inhparent = 'positions'::regclass
     ORDER BY b.bounds IS NULL, 3 NULLS FIRST;
$_$;

--
-- Name: FUNCTION positions_partitions(); Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON FUNCTION public.positions_partitions() IS 'Every partition of positions (in the schema partitions) with its range [range_start, range_end); NULL for an unbounded end, and both for the default partition.';

--
-- Name: positions; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.positions (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    user_id uuid NOT NULL,
    wallet_address text NOT NULL,
    protocol text NOT NULL,
    chain_id bigint DEFAULT 1 NOT NULL,
    health_factor numeric,
    collateral jsonb DEFAULT '[]'::jsonb NOT NULL,
    debt jsonb DEFAULT '[]'::jsonb NOT NULL,
    metadata jsonb DEFAULT '{}'::jsonb NOT NULL,
    snapshot_at timestamp with time zone DEFAULT now() NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    write_seq bigint,
    CONSTRAINT positions_chain_id_check CHECK ((chain_id > 0)),
    CONSTRAINT positions_chain_id_safe_integer_check CHECK ((chain_id <= '9007199254740991'::bigint)),
    CONSTRAINT positions_collateral_assets_check CHECK (public.is_asset_list(collateral)),
    CONSTRAINT positions_collateral_check CHECK ((jsonb_typeof(collateral) = 'array'::text)),
    CONSTRAINT positions_debt_assets_check CHECK (public.is_asset_list(debt)),
    CONSTRAINT positions_debt_check CHECK ((jsonb_typeof(debt) = 'array'::text)),
    CONSTRAINT positions_health_factor_check CHECK (((health_factor >= (0)::numeric) AND (health_factor <> 'NaN'::numeric) AND (health_factor <> 'Infinity'::numeric))),
    CONSTRAINT positions_metadata_check CHECK ((jsonb_typeof(metadata) = 'object'::text)),
    CONSTRAINT positions_metadata_depth_check CHECK (public.is_json_within_depth(metadata)),
    CONSTRAINT positions_protocol_check CHECK ((protocol <> ''::text)),
    CONSTRAINT positions_wallet_address_check CHECK ((wallet_address ~ '^0x[0-9a-f]{40}$'::text))
)
PARTITION BY RANGE (snapshot_at);

--
-- Name: TABLE positions; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON TABLE public.positions IS 'Point-in-time snapshots of a user''s position in one protocol on one chain: the history, partitioned by range of snapshot_at (partitions in the schema partitions, made and retired by defi-sql maintain). The newest of each (user_id, protocol, chain_id) is also in positions_latest (0038), which the latest reads use.';

--
-- Name: COLUMN positions.user_id; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.positions.user_id IS 'Owning user; rows are deleted together with the user.';

--
-- Name: COLUMN positions.wallet_address; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.positions.wallet_address IS 'EVM address holding the position, lower case (0x + 40 hex digits), normalised by trigger positions_normalize_wallet_address. Not necessarily the owner''s users.wallet_address.';

--
-- Name: COLUMN positions.protocol; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.positions.protocol IS 'Protocol identifier, e.g. ''aave-v3'' or ''compound-v3''.';

--
-- Name: COLUMN positions.chain_id; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.positions.chain_id IS 'EIP-155 chain id (1 = Ethereum mainnet).';

--
-- Name: COLUMN positions.health_factor; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.positions.health_factor IS 'Protocol health factor (dimensionless; < 1 means liquidatable). NULL means the position has no debt and cannot be liquidated; Infinity and NaN are never stored (numeric NaN sorts above every number, so the CHECK excludes it explicitly).';

--
-- Name: COLUMN positions.collateral; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.positions.collateral IS 'JSON array of Asset objects, e.g. [{"symbol": "ETH", "amount": "1.5", "valueUSD": "3000"}]; amount and valueUSD are decimal strings to avoid float rounding. Empty array = no collateral.';

--
-- Name: COLUMN positions.debt; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.positions.debt IS 'JSON array of Asset objects, same shape as collateral, e.g. [{"symbol": "USDT", "amount": "1000", "valueUSD": "1000"}]. Empty array = no debt.';

--
-- Name: COLUMN positions.metadata; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.positions.metadata IS 'JSON object with protocol-specific details, e.g. {"ltv": "0.5", "liquidationThreshold": "0.825"}; numbers as decimal strings.';

--
-- Name: COLUMN positions.snapshot_at; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.positions.snapshot_at IS 'When the on-chain state was read (may be earlier than created_at).';

--
-- Name: COLUMN positions.updated_at; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.positions.updated_at IS 'Time of the last update; maintained by trigger positions_set_updated_at.';

--
-- Name: COLUMN positions.write_seq; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.positions.write_seq IS 'Order in which snapshots were written (from sequence positions_write_seq): breaks ties of snapshot_at, the last written wins. NULL for rows written before migration 0023.';

--
-- Name: CONSTRAINT positions_chain_id_safe_integer_check ON positions; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON CONSTRAINT positions_chain_id_safe_integer_check ON public.positions IS 'At most 2^53 - 1 (Number.MAX_SAFE_INTEGER), so a JavaScript client converts the bigint exactly with Number().';

--
-- Name: CONSTRAINT positions_health_factor_check ON positions; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON CONSTRAINT positions_health_factor_check ON public.positions IS 'health_factor is NULL or a finite number >= 0; NaN and Infinity are rejected explicitly because ''NaN''::numeric >= 0 is true.';

--
-- Name: positions_roll_up(timestamp with time zone, timestamp with time zone, regclass); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.positions_roll_up(range_start timestamp with time zone, range_end timestamp with time zone, source regclass DEFAULT 'public.positions'::regclass) RETURNS bigint
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'public'
    AS $_$
DECLARE
    days bigint;
BEGIN
    EXECUTE format($sql$
        INSERT INTO positions_daily AS d
               (user_id, protocol, chain_id, day, snapshots, first_health_factor,
                last_health_factor, min_health_factor, last_collateral_usd, last_debt_usd,
                first_snapshot_at, last_snapshot_at)
        SELECT user_id, protocol, chain_id, day, snapshots, health_factors[snapshots],
               health_factors[1], min_health_factor, positions_usd(last_collateral),
               positions_usd(last_debt), first_snapshot_at, last_snapshot_at
          FROM (SELECT user_id, protocol, chain_id, (snapshot_at AT TIME ZONE 'UTC')::date AS day,
                       count(*) AS snapshots,
                       array_agg(health_factor ORDER BY snapshot_at DESC, write_seq DESC NULLS LAST,
                                                        id DESC) AS health_factors,
                       min(health_factor) AS min_health_factor,
                       (array_agg(collateral ORDER BY snapshot_at DESC, write_seq DESC NULLS LAST,
                                                      id DESC))[1] AS last_collateral,
                       (array_agg(debt ORDER BY snapshot_at DESC, write_seq DESC NULLS LAST,
                                                id DESC))[1] AS last_debt,
                       min(snapshot_at) AS first_snapshot_at, max(snapshot_at) AS last_snapshot_at
                  FROM %s
                 WHERE snapshot_at >= %L AND snapshot_at < %L
                 GROUP BY 1, 2, 3, 4) AS g
            ON CONFLICT (user_id, protocol, chain_id, day) DO UPDATE
           SET snapshots = excluded.snapshots,
               first_health_factor = excluded.first_health_factor,
               last_health_factor = excluded.last_health_factor,
               min_health_factor = excluded.min_health_factor,
               last_collateral_usd = excluded.last_collateral_usd,
               last_debt_usd = excluded.last_debt_usd,
               first_snapshot_at = excluded.first_snapshot_at,
               last_snapshot_at = excluded.last_snapshot_at
        $sql$, source, coalesce(range_start, '-infinity'), coalesce(range_end, 'infinity'));
    GET DIAGNOSTICS days = ROW_COUNT;
    RETURN days;
END;
$_$;

--
-- Name: FUNCTION positions_roll_up(range_start timestamp with time zone, range_end timestamp with time zone, source regclass); Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON FUNCTION public.positions_roll_up(range_start timestamp with time zone, range_end timestamp with time zone, source regclass) IS 'Rolls up the snapshots of [range_start, range_end) (NULL: unbounded) of source (positions, or a detached partition of it) into positions_daily, replacing the days it covers; returns how many (user, protocol, chain, day) rows it wrote.';

--
-- Name: positions_usd(jsonb); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.positions_usd(assets jsonb) RETURNS numeric
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN (SELECT COALESCE(sum(public.json_decimal((asset.value -> 'valueUSD'::text))), (0)::numeric) AS "coalesce" FROM jsonb_array_elements(CASE jsonb_typeof(positions_usd.assets) WHEN 'array'::text THEN positions_usd.assets ELSE '[]'::jsonb END) asset(value));

--
-- Name: FUNCTION positions_usd(assets jsonb); Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON FUNCTION public.positions_usd(assets jsonb) IS 'The sum of valueUSD (json_decimal) over a list of assets (positions.collateral or debt); 0 for an empty or malformed list.';

--
-- Name: set_updated_at(); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.set_updated_at() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    NEW.updated_at := now();
    RETURN NEW;
END;
$$;

--
-- Name: FUNCTION set_updated_at(); Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON FUNCTION public.set_updated_at() IS 'Trigger function for BEFORE UPDATE ... FOR EACH ROW triggers: sets NEW.updated_at to now() (the transaction start time). Any updated_at value supplied by the client is overwritten.';

--
-- Name: wallet_address_equal(public.wallet_address, public.wallet_address); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.wallet_address_equal(public.wallet_address, public.wallet_address) RETURNS boolean
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    RETURN (lower(($1)::text) = lower(($2)::text));

--
-- Name: FUNCTION wallet_address_equal(public.wallet_address, public.wallet_address); Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON FUNCTION public.wallet_address_equal(public.wallet_address, public.wallet_address) IS 'Equality of two wallet addresses ignoring letter case; inlined by the planner as lower(a) = lower(b), which users_wallet_address_lower_idx serves.';

--
-- Name: =; Type: OPERATOR; Schema: public; Owner: -
--

CREATE OPERATOR public.= (
    FUNCTION = public.wallet_address_equal,
    LEFTARG = public.wallet_address,
    RIGHTARG = public.wallet_address,
    COMMUTATOR = OPERATOR(public.=)
);

--
-- Name: OPERATOR = (public.wallet_address, public.wallet_address); Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON OPERATOR public.= (public.wallet_address, public.wallet_address) IS 'Wallet addresses are equal when they differ at most in letter case.';

--
-- Name: alerts; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.alerts (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    user_id uuid NOT NULL,
    signal_id uuid,
    type text NOT NULL,
    channel text NOT NULL,
    message text NOT NULL,
    metadata jsonb DEFAULT '{}'::jsonb NOT NULL,
    sent_at timestamp with time zone,
    acknowledged_at timestamp with time zone,
    status text DEFAULT 'pending'::text NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    attempts integer DEFAULT 0 NOT NULL,
    claimed_until timestamp with time zone,
    claim_token uuid,
    idempotency_key uuid,
    next_attempt_at timestamp with time zone,
    CONSTRAINT alerts_acknowledged_has_acknowledged_at CHECK (((status <> 'acknowledged'::text) OR (acknowledged_at IS NOT NULL))),
    CONSTRAINT alerts_attempts_check CHECK ((attempts >= 0)),
    CONSTRAINT alerts_channel_check CHECK ((channel = ANY (ARRAY['telegram'::text, 'email'::text, 'in_app'::text]))),
    CONSTRAINT alerts_lease_check CHECK ((((claimed_until IS NULL) = (claim_token IS NULL)) AND ((claim_token IS NULL) OR (idempotency_key IS NOT NULL)))),
    CONSTRAINT alerts_metadata_check CHECK ((jsonb_typeof(metadata) = 'object'::text)),
    CONSTRAINT alerts_metadata_depth_check CHECK (public.is_json_within_depth(metadata)),
    CONSTRAINT alerts_sent_has_sent_at CHECK (((status <> 'sent'::text) OR (sent_at IS NOT NULL))),
    CONSTRAINT alerts_status_check CHECK ((status = ANY (ARRAY['pending'::text, 'sent'::text, 'failed'::text, 'acknowledged'::text]))),
    CONSTRAINT alerts_type_check CHECK ((type <> ''::text))
);

--
-- Name: TABLE alerts; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON TABLE public.alerts IS 'Notifications for a user on one channel, with their delivery status.';

--
-- Name: COLUMN alerts.user_id; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.alerts.user_id IS 'Recipient; alerts are deleted together with the user.';

--
-- Name: COLUMN alerts.signal_id; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.alerts.signal_id IS 'Signal that caused the alert; NULL if the alert was not caused by a signal or the signal has since been deleted (ON DELETE SET NULL).';

--
-- Name: COLUMN alerts.type; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.alerts.type IS 'Alert type identifier (free text, non-empty), e.g. a signal type or ''health_factor''.';

--
-- Name: COLUMN alerts.channel; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.alerts.channel IS 'Delivery channel: ''telegram'', ''email'' or ''in_app''.';

--
-- Name: COLUMN alerts.message; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.alerts.message IS 'Human-readable text as delivered to the user.';

--
-- Name: COLUMN alerts.metadata; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.alerts.metadata IS 'JSON object with channel- or type-specific details (e.g. provider message id, error of a failed delivery).';

--
-- Name: COLUMN alerts.sent_at; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.alerts.sent_at IS 'When delivery succeeded; NULL while pending or if delivery failed. Required when status = ''sent''.';

--
-- Name: COLUMN alerts.acknowledged_at; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.alerts.acknowledged_at IS 'When the user acknowledged the alert; NULL if not acknowledged. Required when status = ''acknowledged''.';

--
-- Name: COLUMN alerts.status; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.alerts.status IS '''pending'' = queued, not yet delivered (also between retries); ''sent'' = delivered (sent_at set); ''failed'' = out of the queue for good, a dead letter: its last attempt failed (or it could not be read), the reason in metadata.failureReason; ''acknowledged'' = seen by the user (acknowledged_at set).';

--
-- Name: COLUMN alerts.attempts; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.alerts.attempts IS 'How many times the alert has been claimed for delivery since it was queued or last requeued by an operator (0 = never).';

--
-- Name: COLUMN alerts.claimed_until; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.alerts.claimed_until IS 'End of the current or last delivery lease; a pending alert whose lease has ended may be claimed again. NULL if never claimed.';

--
-- Name: COLUMN alerts.claim_token; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.alerts.claim_token IS 'Token of the latest lease, new at each claim: only its holder may mark the alert sent or failed. NULL if never claimed, or if a failed attempt or an operator returned it to the queue (the holder''s token is void).';

--
-- Name: COLUMN alerts.idempotency_key; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.alerts.idempotency_key IS 'Set at the first claim and never changed: the sender passes it to the channel, which drops a second delivery with the same key. NULL if never claimed.';

--
-- Name: COLUMN alerts.next_attempt_at; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.alerts.next_attempt_at IS 'A pending alert whose last delivery attempt failed is not claimed before this time (backoff); NULL = due at once. Not meaningful once the alert is sent or failed.';

--
-- Name: CONSTRAINT alerts_acknowledged_has_acknowledged_at ON alerts; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON CONSTRAINT alerts_acknowledged_has_acknowledged_at ON public.alerts IS 'An alert in status ''acknowledged'' must record when it was acknowledged.';

--
-- Name: CONSTRAINT alerts_lease_check ON alerts; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON CONSTRAINT alerts_lease_check ON public.alerts IS 'A lease has both an end and a token, and a leased alert has an idempotency key.';

--
-- Name: CONSTRAINT alerts_sent_has_sent_at ON alerts; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON CONSTRAINT alerts_sent_has_sent_at ON public.alerts IS 'An alert in status ''sent'' must record when it was sent.';

--
-- Name: event_store; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.event_store (
    "position" bigint NOT NULL,
    event_id uuid DEFAULT gen_random_uuid() NOT NULL,
    stream_type text NOT NULL,
    stream_id uuid NOT NULL,
    version integer NOT NULL,
    event_type text NOT NULL,
    payload jsonb NOT NULL,
    metadata jsonb DEFAULT '{}'::jsonb NOT NULL,
    occurred_at timestamp with time zone DEFAULT now() NOT NULL,
    recorded_at timestamp with time zone DEFAULT now() NOT NULL,
    transaction_id xid8 DEFAULT pg_current_xact_id() NOT NULL,
    owner_id uuid DEFAULT public.acting_user_id(),
    CONSTRAINT event_store_event_type_check CHECK ((event_type <> ''::text)),
    CONSTRAINT event_store_metadata_check CHECK ((jsonb_typeof(metadata) = 'object'::text)),
    CONSTRAINT event_store_metadata_depth_check CHECK (public.is_json_within_depth(metadata)),
    CONSTRAINT event_store_payload_check CHECK ((jsonb_typeof(payload) = 'object'::text)),
    CONSTRAINT event_store_payload_depth_check CHECK (public.is_json_within_depth(payload)),
    CONSTRAINT event_store_stream_type_check CHECK ((stream_type <> ''::text)),
    CONSTRAINT event_store_version_check CHECK ((version >= 1))
);

--
-- Name: TABLE event_store; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON TABLE public.event_store IS 'Append-only log of domain events. UPDATE, DELETE and TRUNCATE are rejected by triggers; old events are moved to event_store_archive by archive_events(cutoff).';

--
-- Name: COLUMN event_store."position"; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.event_store."position" IS 'Global ordering key for projections, assigned at insert time. Gap-tolerant: rolled-back appends leave gaps, which are normal. Values are taken at insert, not at commit, so concurrent appends can become visible out of position order.';

--
-- Name: COLUMN event_store.event_id; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.event_store.event_id IS 'Client-supplied (or generated) event identity; unique, so re-sending the same event is rejected and appends are idempotent.';

--
-- Name: COLUMN event_store.stream_type; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.event_store.stream_type IS 'Aggregate type of the stream, e.g. ''position'' or ''intent''.';

--
-- Name: COLUMN event_store.stream_id; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.event_store.stream_id IS 'Aggregate (stream) identity.';

--
-- Name: COLUMN event_store.version; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.event_store.version IS 'Per-stream sequence number starting at 1; UNIQUE (stream_id, version) provides optimistic concurrency: two writers appending the same version conflict.';

--
-- Name: COLUMN event_store.event_type; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.event_store.event_type IS 'Event name, e.g. ''IntentTriggered''.';

--
-- Name: COLUMN event_store.payload; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.event_store.payload IS 'JSON object with the event data; shape depends on event_type.';

--
-- Name: COLUMN event_store.metadata; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.event_store.metadata IS 'JSON object with technical context (e.g. correlation/causation ids, actor); empty object if none.';

--
-- Name: COLUMN event_store.occurred_at; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.event_store.occurred_at IS 'When the event happened in the domain (may be earlier than recorded_at).';

--
-- Name: COLUMN event_store.recorded_at; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.event_store.recorded_at IS 'When the event was appended (transaction start time); archive_events() uses it as the cut-off column.';

--
-- Name: COLUMN event_store.transaction_id; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.event_store.transaction_id IS 'The appending transaction (pg_current_xact_id()); 0 for events appended before migration 0031. Consumers read in (transaction_id, position) order, below pg_snapshot_xmin(pg_current_snapshot()): gap-free, whatever order transactions commit in.';

--
-- Name: COLUMN event_store.owner_id; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.event_store.owner_id IS 'The user the stream belongs to (the first event of the stream decides), NULL for the service''s own streams. defi_app sees and appends only the acting user''s events.';

--
-- Name: event_store_archive; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.event_store_archive (
    "position" bigint NOT NULL,
    event_id uuid NOT NULL,
    stream_type text NOT NULL,
    stream_id uuid NOT NULL,
    version integer NOT NULL,
    event_type text NOT NULL,
    payload jsonb NOT NULL,
    metadata jsonb NOT NULL,
    occurred_at timestamp with time zone NOT NULL,
    recorded_at timestamp with time zone NOT NULL,
    archived_at timestamp with time zone DEFAULT now() NOT NULL,
    transaction_id xid8 DEFAULT '0'::xid8 NOT NULL,
    owner_id uuid
);

--
-- Name: TABLE event_store_archive; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON TABLE public.event_store_archive IS 'Events moved out of event_store by archive_events(cutoff); same columns and values as in event_store (including position) plus archived_at.';

--
-- Name: COLUMN event_store_archive."position"; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.event_store_archive."position" IS 'The event''s original event_store.position (not regenerated).';

--
-- Name: COLUMN event_store_archive.payload; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.event_store_archive.payload IS 'The event''s original event_store.payload (JSON object).';

--
-- Name: COLUMN event_store_archive.metadata; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.event_store_archive.metadata IS 'The event''s original event_store.metadata (JSON object).';

--
-- Name: COLUMN event_store_archive.archived_at; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.event_store_archive.archived_at IS 'When archive_events() moved the event here (transaction start time).';

--
-- Name: COLUMN event_store_archive.transaction_id; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.event_store_archive.transaction_id IS 'The event''s original event_store.transaction_id.';

--
-- Name: COLUMN event_store_archive.owner_id; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.event_store_archive.owner_id IS 'The event''s original event_store.owner_id.';

--
-- Name: event_store_position_seq; Type: SEQUENCE; Schema: public; Owner: -
--

ALTER TABLE public.event_store ALTER COLUMN "position" ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME public.event_store_position_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);

--
-- Name: event_subscriptions; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.event_subscriptions (
    name text NOT NULL,
    stream_types text[],
    transaction_id xid8 DEFAULT '0'::xid8 NOT NULL,
    "position" bigint DEFAULT 0 NOT NULL,
    events_handled bigint DEFAULT 0 NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT event_subscriptions_events_handled_check CHECK ((events_handled >= 0)),
    CONSTRAINT event_subscriptions_name_check CHECK (((name <> ''::text) AND (length(name) <= 200))),
    CONSTRAINT event_subscriptions_position_check CHECK (("position" >= 0)),
    CONSTRAINT event_subscriptions_stream_types_check CHECK (((stream_types IS NULL) OR ((cardinality(stream_types) > 0) AND (array_position(stream_types, NULL::text) IS NULL))))
);

--
-- Name: TABLE event_subscriptions; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON TABLE public.event_subscriptions IS 'Named consumers of the event store and their checkpoints: the last event each has handled, as (transaction_id, position). A consumer''s handler and the move of its checkpoint commit in one transaction.';

--
-- Name: COLUMN event_subscriptions.stream_types; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.event_subscriptions.stream_types IS 'The stream types the consumer follows; NULL: every stream.';

--
-- Name: COLUMN event_subscriptions.transaction_id; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.event_subscriptions.transaction_id IS 'transaction_id of the last event handled (0: none yet).';

--
-- Name: COLUMN event_subscriptions."position"; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.event_subscriptions."position" IS 'position of the last event handled (0: none yet).';

--
-- Name: intents; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.intents (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    user_id uuid NOT NULL,
    protocol text,
    chain_id bigint,
    condition jsonb NOT NULL,
    action jsonb NOT NULL,
    status text DEFAULT 'active'::text NOT NULL,
    triggered_at timestamp with time zone,
    executed_at timestamp with time zone,
    expires_at timestamp with time zone,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    threshold numeric GENERATED ALWAYS AS (public.json_decimal((condition -> 'value'::text))) STORED,
    CONSTRAINT intents_action_check CHECK ((jsonb_typeof(action) = 'object'::text)),
    CONSTRAINT intents_action_shape_check CHECK (((COALESCE((action ->> 'type'::text), ''::text) = ANY (ARRAY['repay'::text, 'deposit'::text, 'withdraw'::text, 'notify'::text])) AND (COALESCE(jsonb_typeof((action -> 'asset'::text)), 'string'::text) = ANY (ARRAY['string'::text, 'null'::text])) AND ((COALESCE(jsonb_typeof((action -> 'amount'::text)), 'null'::text) = 'null'::text) OR public.is_json_decimal((action -> 'amount'::text))) AND public.is_json_within_depth(action))),
    CONSTRAINT intents_chain_id_check CHECK ((chain_id > 0)),
    CONSTRAINT intents_chain_id_safe_integer_check CHECK ((chain_id <= '9007199254740991'::bigint)),
    CONSTRAINT intents_condition_check CHECK ((jsonb_typeof(condition) = 'object'::text)),
    CONSTRAINT intents_condition_shape_check CHECK (((COALESCE((condition ->> 'operator'::text), ''::text) = ANY (ARRAY['<'::text, '<='::text, '>'::text, '>='::text])) AND (COALESCE((condition -> 'metric'::text), '"healthFactor"'::jsonb) = '"healthFactor"'::jsonb) AND public.is_json_decimal((condition -> 'value'::text)) AND public.is_json_within_depth(condition))),
    CONSTRAINT intents_executed_has_executed_at CHECK (((status <> 'executed'::text) OR (executed_at IS NOT NULL))),
    CONSTRAINT intents_protocol_check CHECK ((protocol <> ''::text)),
    CONSTRAINT intents_status_check CHECK ((status = ANY (ARRAY['active'::text, 'triggered'::text, 'executed'::text, 'cancelled'::text, 'failed'::text, 'expired'::text]))),
    CONSTRAINT intents_triggered_has_triggered_at CHECK (((status <> 'triggered'::text) OR (triggered_at IS NOT NULL)))
);

--
-- Name: TABLE intents; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON TABLE public.intents IS 'Automation rules: when condition holds for the user''s positions, perform action.';

--
-- Name: COLUMN intents.user_id; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.intents.user_id IS 'Owning user; intents are deleted together with the user.';

--
-- Name: COLUMN intents.protocol; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.intents.protocol IS 'Optional scope: protocol identifier as in positions.protocol; NULL = any protocol. Never an empty string.';

--
-- Name: COLUMN intents.chain_id; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.intents.chain_id IS 'Optional scope: EIP-155 chain id; NULL = any chain.';

--
-- Name: COLUMN intents.condition; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.intents.condition IS 'JSON object describing when to fire, e.g. {"metric": "healthFactor", "operator": "<", "value": "1.2"}; value is a decimal string.';

--
-- Name: COLUMN intents.action; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.intents.action IS 'JSON object describing what to do, e.g. {"type": "repay", "asset": "USDT", "amount": "1000"}; amount is a decimal string.';

--
-- Name: COLUMN intents.status; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.intents.status IS '''active'' = waiting for condition; ''triggered'' = condition met, action pending; ''executed'' = action done; ''cancelled'' = withdrawn by the user; ''failed'' = action failed; ''expired'' = expires_at passed without firing.';

--
-- Name: COLUMN intents.triggered_at; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.intents.triggered_at IS 'When the condition was met; NULL if it never was.';

--
-- Name: COLUMN intents.executed_at; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.intents.executed_at IS 'When the action completed; NULL if not executed.';

--
-- Name: COLUMN intents.expires_at; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.intents.expires_at IS 'When the intent stops being evaluated; NULL = never expires.';

--
-- Name: COLUMN intents.updated_at; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.intents.updated_at IS 'Time of the last update; maintained by trigger intents_set_updated_at.';

--
-- Name: COLUMN intents.threshold; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.intents.threshold IS 'condition.value as a number (json_decimal), NULL when it is not one: generated by the database, read by intents_due.';

--
-- Name: CONSTRAINT intents_chain_id_safe_integer_check ON intents; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON CONSTRAINT intents_chain_id_safe_integer_check ON public.intents IS 'At most 2^53 - 1 (Number.MAX_SAFE_INTEGER), so a JavaScript client converts the bigint exactly with Number().';

--
-- Name: positions_daily; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.positions_daily (
    user_id uuid NOT NULL,
    protocol text NOT NULL,
    chain_id bigint NOT NULL,
    day date NOT NULL,
    snapshots bigint NOT NULL,
    first_health_factor numeric,
    last_health_factor numeric,
    min_health_factor numeric,
    last_collateral_usd numeric NOT NULL,
    last_debt_usd numeric NOT NULL,
    first_snapshot_at timestamp with time zone NOT NULL,
    last_snapshot_at timestamp with time zone NOT NULL,
    CONSTRAINT positions_daily_snapshots_check CHECK ((snapshots > 0))
);

--
-- Name: TABLE positions_daily; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON TABLE public.positions_daily IS 'Daily rollups of the snapshots retention removed from positions: one row per (user_id, protocol, chain_id, UTC day). Written by positions_roll_up; read by positions_history_daily.';

--
-- Name: COLUMN positions_daily.day; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.positions_daily.day IS 'The UTC day the snapshots were taken on.';

--
-- Name: COLUMN positions_daily.first_health_factor; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.positions_daily.first_health_factor IS 'health_factor of the day''s first snapshot (NULL: no debt), by snapshot_at, then write_seq, then id.';

--
-- Name: COLUMN positions_daily.last_health_factor; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.positions_daily.last_health_factor IS 'health_factor of the day''s last snapshot.';

--
-- Name: COLUMN positions_daily.min_health_factor; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.positions_daily.min_health_factor IS 'The lowest health_factor of the day (NULL when no snapshot of it had debt).';

--
-- Name: COLUMN positions_daily.last_collateral_usd; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.positions_daily.last_collateral_usd IS 'The sum of valueUSD over the collateral of the day''s last snapshot.';

--
-- Name: COLUMN positions_daily.last_debt_usd; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.positions_daily.last_debt_usd IS 'The sum of valueUSD over the debt of the day''s last snapshot.';

--
-- Name: positions_latest; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.positions_latest (
    user_id uuid NOT NULL,
    protocol text,
    chain_id bigint,
    id uuid NOT NULL,
    wallet_address text NOT NULL,
    health_factor numeric,
    collateral jsonb NOT NULL,
    debt jsonb NOT NULL,
    metadata jsonb NOT NULL,
    snapshot_at timestamp with time zone NOT NULL,
    created_at timestamp with time zone NOT NULL,
    updated_at timestamp with time zone NOT NULL,
    write_seq bigint
)
WITH (fillfactor='70');

--
-- Name: TABLE positions_latest; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON TABLE public.positions_latest IS 'Read model: the newest snapshot of each (user_id, protocol, chain_id) of positions (newest snapshot_at, then write_seq DESC NULLS LAST, then id DESC), kept by the triggers positions_latest_* on positions in the writing transaction, and filled with the snapshots written before them by 0039. Read by the every-tick queries; never written directly.';

--
-- Name: COLUMN positions_latest.id; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.positions_latest.id IS 'positions.id of the snapshot this row copies.';

--
-- Name: COLUMN positions_latest.collateral; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.positions_latest.collateral IS 'positions.collateral of that snapshot.';

--
-- Name: COLUMN positions_latest.debt; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.positions_latest.debt IS 'positions.debt of that snapshot.';

--
-- Name: COLUMN positions_latest.metadata; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.positions_latest.metadata IS 'positions.metadata of that snapshot.';

--
-- Name: positions_write_seq; Type: SEQUENCE; Schema: public; Owner: -
--

CREATE SEQUENCE public.positions_write_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;

--
-- Name: positions_write_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: -
--

ALTER SEQUENCE public.positions_write_seq OWNED BY public.positions.write_seq;

--
-- Name: signals; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.signals (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    type text NOT NULL,
    asset text NOT NULL,
    severity text NOT NULL,
    data jsonb DEFAULT '{}'::jsonb NOT NULL,
    detected_at timestamp with time zone DEFAULT now() NOT NULL,
    expires_at timestamp with time zone,
    status text DEFAULT 'active'::text NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT signals_asset_check CHECK ((asset <> ''::text)),
    CONSTRAINT signals_data_check CHECK ((jsonb_typeof(data) = 'object'::text)),
    CONSTRAINT signals_data_depth_check CHECK (public.is_json_within_depth(data)),
    CONSTRAINT signals_expires_at_check CHECK (((expires_at IS NULL) OR (expires_at > detected_at))),
    CONSTRAINT signals_severity_check CHECK ((severity = ANY (ARRAY['low'::text, 'medium'::text, 'high'::text, 'critical'::text]))),
    CONSTRAINT signals_status_check CHECK ((status = ANY (ARRAY['active'::text, 'expired'::text, 'acknowledged'::text]))),
    CONSTRAINT signals_type_check CHECK ((type <> ''::text))
);

--
-- Name: TABLE signals; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON TABLE public.signals IS 'Market signals (e.g. depeg, liquidation risk, rate spike) detected for an asset.';

--
-- Name: COLUMN signals.type; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.signals.type IS 'Signal type identifier as produced by the detector (free text, non-empty); users.preferences.activeSignals refers to these values.';

--
-- Name: COLUMN signals.asset; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.signals.asset IS 'Asset symbol the signal is about, e.g. ''ETH'' or ''USDT''.';

--
-- Name: COLUMN signals.severity; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.signals.severity IS 'One of ''low'', ''medium'', ''high'', ''critical''.';

--
-- Name: COLUMN signals.data; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.signals.data IS 'JSON object with type-specific details of the signal (shape depends on type).';

--
-- Name: COLUMN signals.detected_at; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.signals.detected_at IS 'When the condition was detected (may be earlier than created_at).';

--
-- Name: COLUMN signals.expires_at; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.signals.expires_at IS 'When the signal stops being relevant; NULL = no expiry. Must be later than detected_at.';

--
-- Name: COLUMN signals.status; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.signals.status IS '''active'' = current; ''expired'' = past expires_at or superseded; ''acknowledged'' = seen and dismissed.';

--
-- Name: users; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.users (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    wallet_address public.wallet_address NOT NULL,
    preferences jsonb DEFAULT '{}'::jsonb NOT NULL,
    telegram_chat_id text,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    alert_threshold numeric GENERATED ALWAYS AS (public.json_decimal((preferences #> '{alertThresholds,healthFactor}'::text[]))) STORED,
    CONSTRAINT users_preferences_active_signals_check CHECK (
CASE jsonb_typeof((preferences -> 'activeSignals'::text))
    WHEN 'array'::text THEN (NOT jsonb_path_exists((preferences -> 'activeSignals'::text), 'strict $[*]?(@.type() != "string")'::jsonpath))
    ELSE (COALESCE(jsonb_typeof((preferences -> 'activeSignals'::text)), 'null'::text) = 'null'::text)
END),
    CONSTRAINT users_preferences_alert_thresholds_check CHECK (
CASE jsonb_typeof((preferences -> 'alertThresholds'::text))
    WHEN 'object'::text THEN ((COALESCE(jsonb_typeof((preferences #> '{alertThresholds,healthFactor}'::text[])), 'null'::text) = 'null'::text) OR public.is_json_decimal((preferences #> '{alertThresholds,healthFactor}'::text[])))
    ELSE (COALESCE(jsonb_typeof((preferences -> 'alertThresholds'::text)), 'null'::text) = 'null'::text)
END),
    CONSTRAINT users_preferences_check CHECK ((jsonb_typeof(preferences) = 'object'::text)),
    CONSTRAINT users_preferences_depth_check CHECK (public.is_json_within_depth(preferences)),
    CONSTRAINT users_preferences_notification_channels_check CHECK (
CASE jsonb_typeof((preferences -> 'notificationChannels'::text))
    WHEN 'array'::text THEN ((preferences -> 'notificationChannels'::text) <@ '["telegram", "email", "in_app"]'::jsonb)
    ELSE (COALESCE(jsonb_typeof((preferences -> 'notificationChannels'::text)), 'null'::text) = 'null'::text)
END),
    CONSTRAINT users_preferences_risk_profile_check CHECK (((preferences ->> 'riskProfile'::text) = ANY (ARRAY['conservative'::text, 'moderate'::text, 'aggressive'::text]))),
    CONSTRAINT users_telegram_chat_id_check CHECK ((telegram_chat_id <> ''::text)),
    CONSTRAINT users_wallet_address_check CHECK (((wallet_address)::text ~ '^0x[0-9a-f]{40}$'::text))
);

--
-- Name: TABLE users; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON TABLE public.users IS 'One row per user, identified by an EVM wallet address.';

--
-- Name: COLUMN users.wallet_address; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.users.wallet_address IS 'EVM address, stored in lower case (0x followed by 40 hex digits). Normalised by trigger users_normalize_wallet_address; unique per user.';

--
-- Name: COLUMN users.preferences; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.users.preferences IS 'JSON object with camelCase keys, all optional: riskProfile (''conservative'' | ''moderate'' | ''aggressive''), alertThresholds (object, e.g. {"healthFactor": 1.5}), activeSignals (array of signal types, see signals.type), notificationChannels (array of ''telegram'' | ''email'' | ''in_app''). Empty object = defaults.';

--
-- Name: COLUMN users.telegram_chat_id; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.users.telegram_chat_id IS 'Telegram chat id used for notifications; NULL until the user links Telegram. Never an empty string.';

--
-- Name: COLUMN users.updated_at; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.users.updated_at IS 'Time of the last update; maintained by trigger users_set_updated_at.';

--
-- Name: COLUMN users.alert_threshold; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.users.alert_threshold IS 'preferences.alertThresholds.healthFactor as a number (json_decimal), NULL when unset: generated by the database, read by positions_at_risk.';

--
-- Name: CONSTRAINT users_preferences_alert_thresholds_check ON users; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON CONSTRAINT users_preferences_alert_thresholds_check ON public.users IS 'alertThresholds, when set, is an object; its healthFactor, when set, is a decimal >= 0. Other threshold keys are the app''s own and are kept.';

--
-- Name: CONSTRAINT users_preferences_notification_channels_check ON users; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON CONSTRAINT users_preferences_notification_channels_check ON public.users IS 'notificationChannels, when set, lists only channels an alert can be delivered on (alerts_channel_check).';

--
-- Name: positions write_seq; Type: DEFAULT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.positions ALTER COLUMN write_seq SET DEFAULT nextval('public.positions_write_seq'::regclass);

--
-- Name: alerts alerts_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.alerts
    ADD CONSTRAINT alerts_pkey PRIMARY KEY (id);

--
-- Name: event_store_archive event_store_archive_event_id_key; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.event_store_archive
    ADD CONSTRAINT event_store_archive_event_id_key UNIQUE (event_id);

--
-- Name: event_store_archive event_store_archive_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.event_store_archive
    ADD CONSTRAINT event_store_archive_pkey PRIMARY KEY ("position");

--
-- Name: event_store_archive event_store_archive_stream_id_version_key; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.event_store_archive
    ADD CONSTRAINT event_store_archive_stream_id_version_key UNIQUE (stream_id, version);

--
-- Name: event_store event_store_event_id_key; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.event_store
    ADD CONSTRAINT event_store_event_id_key UNIQUE (event_id);

--
-- Name: event_store event_store_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.event_store
    ADD CONSTRAINT event_store_pkey PRIMARY KEY ("position");

--
-- Name: event_store event_store_stream_id_version_key; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.event_store
    ADD CONSTRAINT event_store_stream_id_version_key UNIQUE (stream_id, version);

--
-- Name: event_subscriptions event_subscriptions_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.event_subscriptions
    ADD CONSTRAINT event_subscriptions_pkey PRIMARY KEY (name);

--
-- Name: intents intents_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.intents
    ADD CONSTRAINT intents_pkey PRIMARY KEY (id);

--
-- Name: positions_daily positions_daily_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.positions_daily
    ADD CONSTRAINT positions_daily_pkey PRIMARY KEY (user_id, protocol, chain_id, day);

--
-- Name: positions_latest positions_latest_key; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.positions_latest
    ADD CONSTRAINT positions_latest_key UNIQUE NULLS NOT DISTINCT (user_id, protocol, chain_id);

--
-- Name: signals signals_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.signals
    ADD CONSTRAINT signals_pkey PRIMARY KEY (id);

--
-- Name: users users_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.users
    ADD CONSTRAINT users_pkey PRIMARY KEY (id);

--
-- Name: users users_wallet_address_key; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.users
    ADD CONSTRAINT users_wallet_address_key UNIQUE (wallet_address);

--
-- Name: alerts_signal_id_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX alerts_signal_id_idx ON public.alerts USING btree (signal_id);

--
-- Name: alerts_signal_id_user_id_type_channel_key; Type: INDEX; Schema: public; Owner: -
--

CREATE UNIQUE INDEX alerts_signal_id_user_id_type_channel_key ON public.alerts USING btree (signal_id, user_id, type, channel) WHERE (signal_id IS NOT NULL);

--
-- Name: INDEX alerts_signal_id_user_id_type_channel_key; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON INDEX public.alerts_signal_id_user_id_type_channel_key IS 'At most one alert of a type per (signal, user, channel): one alert per notification channel, and fan-outs idempotent under concurrency.';

--
-- Name: alerts_status_created_at_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX alerts_status_created_at_idx ON public.alerts USING btree (status, created_at DESC);

--
-- Name: alerts_user_id_id_key; Type: INDEX; Schema: public; Owner: -
--

CREATE UNIQUE INDEX alerts_user_id_id_key ON public.alerts USING btree (user_id, id);

--
-- Name: INDEX alerts_user_id_id_key; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON INDEX public.alerts_user_id_id_key IS 'Unique (user_id, id): the primary key once alerts is distributed by user_id (docs/scale-out.md: a distributed table''s unique keys hold its distribution column); until then the primary key is on id.';

--
-- Name: alerts_user_id_status_created_at_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX alerts_user_id_status_created_at_idx ON public.alerts USING btree (user_id, status, created_at DESC);

--
-- Name: event_store_archive_transaction_id_position_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX event_store_archive_transaction_id_position_idx ON public.event_store_archive USING btree (transaction_id, "position");

--
-- Name: INDEX event_store_archive_transaction_id_position_idx; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON INDEX public.event_store_archive_transaction_id_position_idx IS 'Serves catch-up reads of archived events in (transaction_id, position) order (read_all_after, subscriptions).';

--
-- Name: event_store_recorded_at_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX event_store_recorded_at_idx ON public.event_store USING btree (recorded_at);

--
-- Name: INDEX event_store_recorded_at_idx; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON INDEX public.event_store_recorded_at_idx IS 'Serves archive_events(cutoff), which selects events with recorded_at < cutoff.';

--
-- Name: event_store_stream_type_position_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX event_store_stream_type_position_idx ON public.event_store USING btree (stream_type, "position");

--
-- Name: INDEX event_store_stream_type_position_idx; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON INDEX public.event_store_stream_type_position_idx IS 'Serves reading all events of one stream type in global order (per-type projections).';

--
-- Name: event_store_transaction_id_position_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX event_store_transaction_id_position_idx ON public.event_store USING btree (transaction_id, "position");

--
-- Name: INDEX event_store_transaction_id_position_idx; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON INDEX public.event_store_transaction_id_position_idx IS 'Serves reads of every stream in (transaction_id, position) order from a checkpoint (read_all_after, subscriptions).';

--
-- Name: intents_active_created_at_id_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX intents_active_created_at_id_idx ON public.intents USING btree (created_at, id) WHERE (status = 'active'::text);

--
-- Name: INDEX intents_active_created_at_id_idx; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON INDEX public.intents_active_created_at_id_idx IS 'Partial index over active intents only, in intents_due'' order (created_at, then id): serves the evaluator''s scan of all active intents.';

--
-- Name: intents_user_id_id_key; Type: INDEX; Schema: public; Owner: -
--

CREATE UNIQUE INDEX intents_user_id_id_key ON public.intents USING btree (user_id, id);

--
-- Name: INDEX intents_user_id_id_key; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON INDEX public.intents_user_id_id_key IS 'Unique (user_id, id): the primary key once intents is distributed by user_id (docs/scale-out.md: a distributed table''s unique keys hold its distribution column); until then the primary key is on id.';

--
-- Name: intents_user_id_status_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX intents_user_id_status_idx ON public.intents USING btree (user_id, status);

--
-- Name: INDEX intents_user_id_status_idx; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON INDEX public.intents_user_id_status_idx IS 'Serves "intents of a user by status" and the user_id foreign key (ON DELETE CASCADE).';

--
-- Name: positions_id_snapshot_at_key; Type: INDEX; Schema: public; Owner: -
--

CREATE UNIQUE INDEX positions_id_snapshot_at_key ON ONLY public.positions USING btree (id, snapshot_at);

--
-- Name: INDEX positions_id_snapshot_at_key; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON INDEX public.positions_id_snapshot_at_key IS 'Unique (id, snapshot_at): a partitioned table''s unique index must contain the partition key; ids are random UUIDs.';

--
-- Name: positions_user_id_snapshot_at_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX positions_user_id_snapshot_at_idx ON ONLY public.positions USING btree (user_id, snapshot_at DESC);

--
-- Name: INDEX positions_user_id_snapshot_at_idx; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON INDEX public.positions_user_id_snapshot_at_idx IS 'Serves a user''s history newest first or by time range (positions_list_for_user, positions_history), positions_latest_refresh, and the user_id foreign key (ON DELETE CASCADE).';

--
-- Name: positions_wallet_address_protocol_snapshot_at_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX positions_wallet_address_protocol_snapshot_at_idx ON ONLY public.positions USING btree (wallet_address, protocol, snapshot_at DESC);

--
-- Name: INDEX positions_wallet_address_protocol_snapshot_at_idx; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON INDEX public.positions_wallet_address_protocol_snapshot_at_idx IS 'Serves a wallet''s snapshots on a protocol, newest first: the last month''s (positions_list_for_wallet_recent), then the older ones (positions_list_for_wallet_before).';

--
-- Name: signals_asset_status_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX signals_asset_status_idx ON public.signals USING btree (asset, status);

--
-- Name: signals_status_detected_at_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX signals_status_detected_at_idx ON public.signals USING btree (status, detected_at DESC);

--
-- Name: signals_type_detected_at_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX signals_type_detected_at_idx ON public.signals USING btree (type, detected_at DESC);

--
-- Name: users_preferences_active_signals_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX users_preferences_active_signals_idx ON public.users USING gin (((preferences -> 'activeSignals'::text)));

--
-- Name: INDEX users_preferences_active_signals_idx; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON INDEX public.users_preferences_active_signals_idx IS 'GIN (jsonb_ops) on preferences -> ''activeSignals'': serves alerts_fan_out, which finds the users subscribed to a signal type with preferences -> ''activeSignals'' ? type. Only a predicate on this very expression (?, ?|, ?&, @>) can use it.';

--
-- Name: users_wallet_address_lower_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX users_wallet_address_lower_idx ON public.users USING btree (lower((wallet_address)::text));

--
-- Name: INDEX users_wallet_address_lower_idx; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON INDEX public.users_wallet_address_lower_idx IS 'Serves wallet_address = ''0xAbC...'' in any letter case: the wallet_address domain''s = compares lower(a) = lower(b).';

--
-- Name: alerts alerts_notify_insert; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER alerts_notify_insert AFTER INSERT ON public.alerts FOR EACH STATEMENT EXECUTE FUNCTION public.alerts_notify();

--
-- Name: TRIGGER alerts_notify_insert ON alerts; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON TRIGGER alerts_notify_insert ON public.alerts IS 'Wakes delivery workers waiting on channel defi_alerts when alerts are queued.';

--
-- Name: alerts alerts_notify_requeue; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER alerts_notify_requeue AFTER UPDATE OF status ON public.alerts FOR EACH ROW WHEN (((old.status = 'failed'::text) AND (new.status = 'pending'::text))) EXECUTE FUNCTION public.alerts_notify();

--
-- Name: TRIGGER alerts_notify_requeue ON alerts; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON TRIGGER alerts_notify_requeue ON public.alerts IS 'Wakes delivery workers waiting on channel defi_alerts when a dead letter is put back in the queue.';

--
-- Name: event_store_archive event_store_archive_forbid_truncate; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER event_store_archive_forbid_truncate BEFORE TRUNCATE ON public.event_store_archive FOR EACH STATEMENT EXECUTE FUNCTION public.event_store_forbid_change();

--
-- Name: TRIGGER event_store_archive_forbid_truncate ON event_store_archive; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON TRIGGER event_store_archive_forbid_truncate ON public.event_store_archive IS 'Rejects TRUNCATE of event_store_archive, without exception.';

--
-- Name: event_store_archive event_store_archive_forbid_update_delete; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER event_store_archive_forbid_update_delete BEFORE DELETE OR UPDATE ON public.event_store_archive FOR EACH ROW EXECUTE FUNCTION public.event_store_forbid_change();

--
-- Name: TRIGGER event_store_archive_forbid_update_delete ON event_store_archive; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON TRIGGER event_store_archive_forbid_update_delete ON public.event_store_archive IS 'Archived history is append-only too: rejects UPDATE and DELETE, without exception.';

--
-- Name: event_store event_store_forbid_truncate; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER event_store_forbid_truncate BEFORE TRUNCATE ON public.event_store FOR EACH STATEMENT EXECUTE FUNCTION public.event_store_forbid_change();

--
-- Name: TRIGGER event_store_forbid_truncate ON event_store; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON TRIGGER event_store_forbid_truncate ON public.event_store IS 'Rejects TRUNCATE of event_store, without exception.';

--
-- Name: event_store event_store_forbid_update_delete; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER event_store_forbid_update_delete BEFORE DELETE OR UPDATE ON public.event_store FOR EACH ROW EXECUTE FUNCTION public.event_store_forbid_change();

--
-- Name: TRIGGER event_store_forbid_update_delete ON event_store; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON TRIGGER event_store_forbid_update_delete ON public.event_store IS 'Rejects UPDATE and DELETE of events (DELETE is allowed only inside archive_events()).';

--
-- Name: event_store event_store_notify; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER event_store_notify AFTER INSERT ON public.event_store FOR EACH STATEMENT EXECUTE FUNCTION public.event_store_notify();

--
-- Name: TRIGGER event_store_notify ON event_store; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON TRIGGER event_store_notify ON public.event_store IS 'Wakes consumers waiting on channel defi_events.';

--
-- Name: event_store event_store_stream_owner; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER event_store_stream_owner BEFORE INSERT ON public.event_store FOR EACH ROW EXECUTE FUNCTION public.event_store_stream_owner();

--
-- Name: TRIGGER event_store_stream_owner ON event_store; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON TRIGGER event_store_stream_owner ON public.event_store IS 'Sets the appending transaction''s id and keeps every event of a stream with the owner of its first event.';

--
-- Name: intents intents_set_updated_at; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER intents_set_updated_at BEFORE UPDATE ON public.intents FOR EACH ROW EXECUTE FUNCTION public.set_updated_at();

--
-- Name: TRIGGER intents_set_updated_at ON intents; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON TRIGGER intents_set_updated_at ON public.intents IS 'Keeps updated_at current on every UPDATE.';

--
-- Name: positions positions_latest_delete; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER positions_latest_delete AFTER DELETE ON public.positions REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION public.positions_latest_delete();

--
-- Name: TRIGGER positions_latest_delete ON positions; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON TRIGGER positions_latest_delete ON public.positions IS 'Keeps positions_latest: the keys a DELETE touched are read again.';

--
-- Name: positions positions_latest_insert; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER positions_latest_insert AFTER INSERT ON public.positions REFERENCING NEW TABLE AS inserted FOR EACH STATEMENT EXECUTE FUNCTION public.positions_latest_insert();

--
-- Name: TRIGGER positions_latest_insert ON positions; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON TRIGGER positions_latest_insert ON public.positions IS 'Keeps positions_latest: the newest inserted snapshot of each key, if newer than the stored one.';

--
-- Name: positions positions_latest_truncate; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER positions_latest_truncate AFTER TRUNCATE ON public.positions FOR EACH STATEMENT EXECUTE FUNCTION public.positions_latest_truncate();

--
-- Name: TRIGGER positions_latest_truncate ON positions; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON TRIGGER positions_latest_truncate ON public.positions IS 'Keeps positions_latest: empty with positions.';

--
-- Name: positions positions_latest_update; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER positions_latest_update AFTER UPDATE ON public.positions REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION public.positions_latest_update();

--
-- Name: TRIGGER positions_latest_update ON positions; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON TRIGGER positions_latest_update ON public.positions IS 'Keeps positions_latest: the keys an UPDATE touched are read again.';

--
-- Name: positions positions_normalize_wallet_address; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER positions_normalize_wallet_address BEFORE INSERT OR UPDATE OF wallet_address ON public.positions FOR EACH ROW EXECUTE FUNCTION public.normalize_wallet_address();

--
-- Name: TRIGGER positions_normalize_wallet_address ON positions; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON TRIGGER positions_normalize_wallet_address ON public.positions IS 'Lower-cases wallet_address before the CHECK constraint sees it.';

--
-- Name: positions positions_set_updated_at; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER positions_set_updated_at BEFORE UPDATE ON public.positions FOR EACH ROW EXECUTE FUNCTION public.set_updated_at();

--
-- Name: TRIGGER positions_set_updated_at ON positions; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON TRIGGER positions_set_updated_at ON public.positions IS 'Keeps updated_at current on every UPDATE.';

--
-- Name: users users_normalize_wallet_address; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER users_normalize_wallet_address BEFORE INSERT OR UPDATE OF wallet_address ON public.users FOR EACH ROW EXECUTE FUNCTION public.normalize_wallet_address();

--
-- Name: TRIGGER users_normalize_wallet_address ON users; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON TRIGGER users_normalize_wallet_address ON public.users IS 'Lower-cases wallet_address before the CHECK and UNIQUE constraints see it.';

--
-- Name: users users_set_updated_at; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER users_set_updated_at BEFORE UPDATE ON public.users FOR EACH ROW EXECUTE FUNCTION public.set_updated_at();

--
-- Name: TRIGGER users_set_updated_at ON users; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON TRIGGER users_set_updated_at ON public.users IS 'Keeps updated_at current on every UPDATE.';

--
-- Name: alerts alerts_signal_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.alerts
    ADD CONSTRAINT alerts_signal_id_fkey FOREIGN KEY (signal_id) REFERENCES public.signals(id) ON DELETE SET NULL;

--
-- Name: alerts alerts_user_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.alerts
    ADD CONSTRAINT alerts_user_id_fkey FOREIGN KEY (user_id) REFERENCES public.users(id) ON DELETE CASCADE;

--
-- Name: intents intents_user_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.intents
    ADD CONSTRAINT intents_user_id_fkey FOREIGN KEY (user_id) REFERENCES public.users(id) ON DELETE CASCADE;

--
-- Name: positions_daily positions_daily_user_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.positions_daily
    ADD CONSTRAINT positions_daily_user_id_fkey FOREIGN KEY (user_id) REFERENCES public.users(id) ON DELETE CASCADE;

--
-- Name: positions_latest positions_latest_user_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.positions_latest
    ADD CONSTRAINT positions_latest_user_id_fkey FOREIGN KEY (user_id) REFERENCES public.users(id) ON DELETE CASCADE;

--
-- Name: positions positions_user_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE public.positions
    ADD CONSTRAINT positions_user_id_fkey FOREIGN KEY (user_id) REFERENCES public.users(id) ON DELETE CASCADE;

--
-- Name: alerts; Type: ROW SECURITY; Schema: public; Owner: -
--

ALTER TABLE public.alerts ENABLE ROW LEVEL SECURITY;

--
-- Name: alerts alerts_acting_user; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY alerts_acting_user ON public.alerts TO defi_app USING ((user_id = public.acting_user_id())) WITH CHECK ((user_id = public.acting_user_id()));

--
-- Name: POLICY alerts_acting_user ON alerts; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON POLICY alerts_acting_user ON public.alerts IS 'defi_app sees and writes only the alerts of the user it acts for.';

--
-- Name: event_store; Type: ROW SECURITY; Schema: public; Owner: -
--

ALTER TABLE public.event_store ENABLE ROW LEVEL SECURITY;

--
-- Name: event_store event_store_acting_user; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY event_store_acting_user ON public.event_store TO defi_app USING ((owner_id = public.acting_user_id())) WITH CHECK ((owner_id = public.acting_user_id()));

--
-- Name: POLICY event_store_acting_user ON event_store; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON POLICY event_store_acting_user ON public.event_store IS 'defi_app sees and appends only the events of the user it acts for.';

--
-- Name: event_store_archive; Type: ROW SECURITY; Schema: public; Owner: -
--

ALTER TABLE public.event_store_archive ENABLE ROW LEVEL SECURITY;

--
-- Name: event_store_archive event_store_archive_acting_user; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY event_store_archive_acting_user ON public.event_store_archive TO defi_app USING ((owner_id = public.acting_user_id()));

--
-- Name: POLICY event_store_archive_acting_user ON event_store_archive; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON POLICY event_store_archive_acting_user ON public.event_store_archive IS 'defi_app sees only the archived events of the user it acts for.';

--
-- Name: intents; Type: ROW SECURITY; Schema: public; Owner: -
--

ALTER TABLE public.intents ENABLE ROW LEVEL SECURITY;

--
-- Name: intents intents_acting_user; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY intents_acting_user ON public.intents TO defi_app USING ((user_id = public.acting_user_id())) WITH CHECK ((user_id = public.acting_user_id()));

--
-- Name: POLICY intents_acting_user ON intents; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON POLICY intents_acting_user ON public.intents IS 'defi_app sees and writes only the intents of the user it acts for.';

--
-- Name: positions; Type: ROW SECURITY; Schema: public; Owner: -
--

ALTER TABLE public.positions ENABLE ROW LEVEL SECURITY;

--
-- Name: positions positions_acting_user; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY positions_acting_user ON public.positions TO defi_app USING ((user_id = public.acting_user_id())) WITH CHECK ((user_id = public.acting_user_id()));

--
-- Name: POLICY positions_acting_user ON positions; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON POLICY positions_acting_user ON public.positions IS 'defi_app sees and writes only the positions of the user it acts for.';

--
-- Name: positions_daily; Type: ROW SECURITY; Schema: public; Owner: -
--

ALTER TABLE public.positions_daily ENABLE ROW LEVEL SECURITY;

--
-- Name: positions_daily positions_daily_acting_user; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY positions_daily_acting_user ON public.positions_daily TO defi_app USING ((user_id = public.acting_user_id()));

--
-- Name: POLICY positions_daily_acting_user ON positions_daily; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON POLICY positions_daily_acting_user ON public.positions_daily IS 'defi_app sees only the daily history of the user it acts for.';

--
-- Name: positions_latest; Type: ROW SECURITY; Schema: public; Owner: -
--

ALTER TABLE public.positions_latest ENABLE ROW LEVEL SECURITY;

--
-- Name: positions_latest positions_latest_acting_user; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY positions_latest_acting_user ON public.positions_latest TO defi_app USING ((user_id = public.acting_user_id()));

--
-- Name: POLICY positions_latest_acting_user ON positions_latest; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON POLICY positions_latest_acting_user ON public.positions_latest IS 'defi_app sees only the latest positions of the user it acts for.';

--
-- Name: users; Type: ROW SECURITY; Schema: public; Owner: -
--

ALTER TABLE public.users ENABLE ROW LEVEL SECURITY;

--
-- Name: users users_acting_user; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY users_acting_user ON public.users TO defi_app USING ((id = public.acting_user_id())) WITH CHECK ((id = public.acting_user_id()));

--
-- Name: POLICY users_acting_user ON users; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON POLICY users_acting_user ON public.users IS 'defi_app sees and writes only the user row of the user it acts for.';

--
-- Name: FUNCTION archive_events(cutoff timestamp with time zone); Type: ACL; Schema: public; Owner: -
--

REVOKE ALL ON FUNCTION public.archive_events(cutoff timestamp with time zone) FROM PUBLIC;

--
-- Name: FUNCTION event_store_stream_owner(); Type: ACL; Schema: public; Owner: -
--

REVOKE ALL ON FUNCTION public.event_store_stream_owner() FROM PUBLIC;

--
-- Name: FUNCTION positions_detach_partition(name text); Type: ACL; Schema: public; Owner: -
--

REVOKE ALL ON FUNCTION public.positions_detach_partition(name text) FROM PUBLIC;

--
-- Name: FUNCTION positions_drop_detached(name text); Type: ACL; Schema: public; Owner: -
--

REVOKE ALL ON FUNCTION public.positions_drop_detached(name text) FROM PUBLIC;

--
-- Name: FUNCTION positions_latest_delete(); Type: ACL; Schema: public; Owner: -
--

REVOKE ALL ON FUNCTION public.positions_latest_delete() FROM PUBLIC;

--
-- Name: FUNCTION positions_latest_insert(); Type: ACL; Schema: public; Owner: -
--

REVOKE ALL ON FUNCTION public.positions_latest_insert() FROM PUBLIC;

--
-- Name: FUNCTION positions_latest_refresh(user_ids uuid[], protocols text[], chain_ids bigint[]); Type: ACL; Schema: public; Owner: -
--

REVOKE ALL ON FUNCTION public.positions_latest_refresh(user_ids uuid[], protocols text[], chain_ids bigint[]) FROM PUBLIC;

--
-- Name: FUNCTION positions_latest_truncate(); Type: ACL; Schema: public; Owner: -
--

REVOKE ALL ON FUNCTION public.positions_latest_truncate() FROM PUBLIC;

--
-- Name: FUNCTION positions_latest_update(); Type: ACL; Schema: public; Owner: -
--

REVOKE ALL ON FUNCTION public.positions_latest_update() FROM PUBLIC;

--
-- Name: FUNCTION positions_make_partitions(width interval, until timestamp with time zone); Type: ACL; Schema: public; Owner: -
--

REVOKE ALL ON FUNCTION public.positions_make_partitions(width interval, until timestamp with time zone) FROM PUBLIC;

--
-- Name: TABLE positions; Type: ACL; Schema: public; Owner: -
--

GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE public.positions TO defi_app;
GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE public.positions TO defi_worker;

--
-- Name: FUNCTION positions_roll_up(range_start timestamp with time zone, range_end timestamp with time zone, source regclass); Type: ACL; Schema: public; Owner: -
--

REVOKE ALL ON FUNCTION public.positions_roll_up(range_start timestamp with time zone, range_end timestamp with time zone, source regclass) FROM PUBLIC;

--
-- Name: TABLE alerts; Type: ACL; Schema: public; Owner: -
--

GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE public.alerts TO defi_app;
GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE public.alerts TO defi_worker;

--
-- Name: TABLE event_store; Type: ACL; Schema: public; Owner: -
--

GRANT SELECT,INSERT ON TABLE public.event_store TO defi_app;
GRANT SELECT,INSERT ON TABLE public.event_store TO defi_worker;

--
-- Name: TABLE event_store_archive; Type: ACL; Schema: public; Owner: -
--

GRANT SELECT ON TABLE public.event_store_archive TO defi_app;
GRANT SELECT ON TABLE public.event_store_archive TO defi_worker;

--
-- Name: TABLE event_subscriptions; Type: ACL; Schema: public; Owner: -
--

GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE public.event_subscriptions TO defi_worker;

--
-- Name: TABLE intents; Type: ACL; Schema: public; Owner: -
--

GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE public.intents TO defi_app;
GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE public.intents TO defi_worker;

--
-- Name: TABLE positions_daily; Type: ACL; Schema: public; Owner: -
--

GRANT SELECT ON TABLE public.positions_daily TO defi_app;
GRANT SELECT ON TABLE public.positions_daily TO defi_worker;

--
-- Name: TABLE positions_latest; Type: ACL; Schema: public; Owner: -
--

GRANT SELECT ON TABLE public.positions_latest TO defi_app;
GRANT SELECT ON TABLE public.positions_latest TO defi_worker;

--
-- Name: SEQUENCE positions_write_seq; Type: ACL; Schema: public; Owner: -
--

GRANT USAGE ON SEQUENCE public.positions_write_seq TO defi_app;
GRANT USAGE ON SEQUENCE public.positions_write_seq TO defi_worker;

--
-- Name: TABLE signals; Type: ACL; Schema: public; Owner: -
--

GRANT SELECT ON TABLE public.signals TO defi_app;
GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE public.signals TO defi_worker;

--
-- Name: TABLE users; Type: ACL; Schema: public; Owner: -
--

GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE public.users TO defi_app;
GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE public.users TO defi_worker;

--
-- PostgreSQL database dump complete
--
