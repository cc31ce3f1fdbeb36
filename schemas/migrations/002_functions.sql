-- Pulse dashboard questions, version 2: the SQL functions of DESIGN.md.
--
-- Every function answers from the rollup tables of 001_rollups.sql and,
-- for any minute-aligned [since, until), returns exactly what the same
-- question asked of the raw directus_activity table returns: counts are
-- equal, unique counts are the HyperLogLog estimate (exact below 2,560
-- distinct values, within 2 % above).
--
-- How a range is read. pulse.range_segments cuts [since, until) into at
-- most five segments, each read from the coarsest table that covers it
-- whole:
--
--   since                                                        until
--     | minute head | hour head |  whole days ... | hour tail | minute tail |
--       *_minute      *_hour       *_day            *_hour      *_minute
--
-- so a 30-day question reads ~30 day rows per key plus at most 46 hour
-- rows and 118 minute rows per key, instead of 43,200 minute rows. Each
-- segment is one range scan of the table's unique index, whose leading
-- column is `bucket`: `bucket >= seg_start AND bucket < seg_end` are its
-- index conditions (EXPLAIN: a Bitmap Index Scan on <table>_bucket_..._key
-- with "Index Cond: ((bucket >= seg.seg_start) AND (bucket <
-- seg.seg_end))"), and the scans run in a nested loop driven by the (at
-- most five) segment rows. No other index is needed; a `(dimension,
-- bucket)` index would serve lookups of one key over all time, which no
-- function does. Rows come back in bucket order, as the sink appends
-- them, so a segment's rows sit on few heap pages.
--
-- The functions are LANGUAGE sql and STABLE; only the segment helper is
-- plpgsql, because it raises notices and loops, and it runs once per call
-- (a MATERIALIZED CTE), never per row. Each function that reads rollups
-- carries SET jit = off: the planner cannot know how short the segments
-- are, so on large tables its estimates pass jit_above_cost and JIT
-- compilation alone (20-30 ms) cost more than the whole answer. (A SET
-- clause stops the planner from inlining the function into the caller;
-- measured, that costs well under a millisecond.)
--
-- Retention. The sink deletes buckets older than now() minus
-- retention.<granularity> (pulse.settings). A segment reaching into
-- deleted minute buckets is answered from hour buckets, and into deleted
-- hour buckets from day buckets, with the range widened to their
-- boundaries and a NOTICE saying so: an answer is coarser than asked,
-- never silently short.
--
-- Without the hll extension (sketch columns are bytea) the functions keep
-- their signatures: counts are exact, unique-count columns are NULL and a
-- NOTICE says that `pulse query` answers them.
--
-- Names from the hll extension are qualified with its schema
-- ({{hll_schema}}) so that the caller's search_path cannot change what
-- the functions call. Functions are CREATE OR REPLACE, so re-applying
-- this file (after its pulse.schema_version row was removed by hand)
-- replaces them instead of failing.

-- "2026-03-01T12:00:00Z": how notices print times, whatever the session's
-- TimeZone and DateStyle.
CREATE OR REPLACE FUNCTION pulse.format_utc(t timestamptz) RETURNS text
LANGUAGE sql STABLE
AS $$
  SELECT to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')
$$;

-- The segments of [since, until): (grain, seg_start, seg_end) rows in time
-- order, grain being the table to read ('minute', 'hour' or 'day').
--
--   coarsest  the coarsest grain the caller can use: 'day' for totals,
--             the output granularity for time series (minute buckets
--             cannot be cut out of an hour row).
--   caller    the function named in notices.
--   uniques   the caller reports unique counts (for the bytea notice).
--
-- since and until are floored to the minute (with a NOTICE when they were
-- not aligned). ROWS 5 tells the planner how small the result is, so each
-- table is probed with an index scan per segment.
CREATE OR REPLACE FUNCTION pulse.range_segments(
  since timestamptz,
  until timestamptz,
  coarsest text DEFAULT 'day',
  caller text DEFAULT 'pulse.range_segments',
  uniques boolean DEFAULT false)
RETURNS TABLE (grain text, seg_start timestamptz, seg_end timestamptz)
LANGUAGE plpgsql STABLE ROWS 5
AS $$
DECLARE
  lo timestamptz := date_trunc('minute', since, 'UTC');
  hi timestamptz := date_trunc('minute', until, 'UTC');
  keep_minute interval;
  keep_hour interval;
  keep_day interval;
  -- Minute (hour) buckets are complete from these instants on.
  minute_from timestamptz := '-infinity';
  hour_from timestamptz := '-infinity';
  -- The range answered: [lo, hi) widened where retention requires.
  a timestamptz;
  b timestamptz;
  grains constant text[] := ARRAY['minute', 'hour', 'day'];
  zone_grain text[];
  zone_lo timestamptz[];
  zone_hi timestamptz[];
  out_grain text[] := '{}';
  out_lo timestamptz[] := '{}';
  out_hi timestamptz[] := '{}';
  tail_grain text[];
  tail_lo timestamptz[];
  tail_hi timestamptz[];
  g text;
  next_grain text;
  x timestamptz;
  y timestamptz;
  p timestamptz;
  q timestamptz;
  n integer;
BEGIN
  -- Arguments: a bad granularity is the caller's error, not an empty
  -- answer; NULL bounds select nothing, as in the raw query.
  IF coarsest IS NULL OR NOT coarsest = ANY (grains) THEN
    RAISE EXCEPTION '%: granularity must be minute, hour or day, not %',
      caller, coalesce(quote_literal(coarsest), 'NULL')
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  -- pulse:if hll
  -- pulse:else
  IF uniques THEN
    RAISE NOTICE '%: unique counts need the hll extension (sketches are '
      'stored as bytea here); they are NULL, and `pulse query` answers them',
      caller;
  END IF;
  -- pulse:end
  IF lo IS NULL OR hi IS NULL THEN
    RETURN;
  END IF;
  IF NOT isfinite(lo) OR NOT isfinite(hi) THEN
    RAISE EXCEPTION '%: since and until must be finite times', caller
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF lo <> since OR hi <> until THEN
    RAISE NOTICE '%: since and until are floored to the minute: answering '
      '[%, %)', caller, pulse.format_utc(lo), pulse.format_utc(hi);
  END IF;
  IF hi <= lo THEN
    RETURN;
  END IF;

  -- Retention: '0' (or no setting) keeps a granularity forever. Boundaries
  -- are rounded up to the next hour (day) so that the coarser table takes
  -- over at one of its own bucket boundaries; hour_from <= minute_from
  -- even for odd settings, so the three zones below never overlap.
  SELECT nullif(s.value, '0')::interval INTO keep_minute
    FROM pulse.settings s WHERE s.key = 'retention.minute';
  SELECT nullif(s.value, '0')::interval INTO keep_hour
    FROM pulse.settings s WHERE s.key = 'retention.hour';
  SELECT nullif(s.value, '0')::interval INTO keep_day
    FROM pulse.settings s WHERE s.key = 'retention.day';
  IF keep_hour IS NOT NULL THEN
    hour_from := date_trunc('day', now() - keep_hour - interval '1 microsecond',
                            'UTC') + interval '24 hours';
  END IF;
  IF keep_minute IS NOT NULL THEN
    minute_from := date_trunc('hour',
                              now() - keep_minute - interval '1 microsecond',
                              'UTC') + interval '1 hour';
  END IF;
  minute_from := greatest(minute_from, hour_from);

  -- Widen each end to the bucket of the resolution still kept there.
  -- ('24 hours', not '1 day': a day is 24 hours in UTC whatever the
  -- session's TimeZone.)
  a := CASE
         WHEN lo < hour_from THEN date_trunc('day', lo, 'UTC')
         WHEN lo < minute_from THEN date_trunc('hour', lo, 'UTC')
         ELSE lo
       END;
  b := CASE
         WHEN hi <= hour_from THEN
           date_trunc('day', hi - interval '1 microsecond', 'UTC')
             + interval '24 hours'
         WHEN hi <= minute_from THEN
           date_trunc('hour', hi - interval '1 microsecond', 'UTC')
             + interval '1 hour'
         ELSE hi
       END;
  IF a <> lo OR b <> hi
     OR (coarsest = 'minute' AND a < minute_from)
     OR (coarsest = 'hour' AND a < hour_from) THEN
    IF a < hour_from THEN
      RAISE NOTICE '%: answered at day resolution before % (hour buckets '
        'older than retention.hour = % are deleted) and at hour resolution '
        'before %; range answered: [%, %)', caller,
        pulse.format_utc(hour_from), keep_hour, pulse.format_utc(minute_from),
        pulse.format_utc(a), pulse.format_utc(b);
    ELSE
      RAISE NOTICE '%: answered at hour resolution before % (minute buckets '
        'older than retention.minute = % are deleted); range answered: '
        '[%, %)', caller, pulse.format_utc(minute_from), keep_minute,
        pulse.format_utc(a), pulse.format_utc(b);
    END IF;
  END IF;
  IF keep_day IS NOT NULL AND a < now() - keep_day THEN
    RAISE NOTICE '%: day buckets older than retention.day = % are deleted: '
      'the answer misses activity before %', caller, keep_day,
      pulse.format_utc(now() - keep_day);
  END IF;

  -- Three zones by the finest grain kept there: day, hour, minute. A
  -- boundary matters only below `coarsest`: when the caller accepts whole
  -- days anyway, the widening above already keeps minute and hour pieces
  -- where they exist, and one zone split into at most five segments is
  -- the answer.
  IF coarsest = 'day' THEN
    hour_from := '-infinity';
  END IF;
  IF coarsest <> 'minute' THEN
    minute_from := hour_from;
  END IF;
  zone_grain := ARRAY['day', 'hour', 'minute'];
  zone_lo := ARRAY[a, greatest(a, hour_from), greatest(a, minute_from)];
  zone_hi := ARRAY[least(b, hour_from), least(b, minute_from), b];

  FOR z IN 1 .. 3 LOOP
    g := zone_grain[z];
    x := zone_lo[z];
    y := zone_hi[z];
    CONTINUE WHEN x >= y;

    -- Peel a head [x, p) and a tail [q, y) at this grain while a coarser
    -- grain (up to `coarsest`) covers whole buckets in between.
    tail_grain := '{}';
    tail_lo := '{}';
    tail_hi := '{}';
    WHILE array_position(grains, g) < array_position(grains, coarsest) LOOP
      next_grain := grains[array_position(grains, g) + 1];
      p := date_trunc(next_grain, x - interval '1 microsecond', 'UTC')
             + CASE next_grain WHEN 'hour' THEN interval '1 hour'
                               ELSE interval '24 hours' END;
      q := date_trunc(next_grain, y, 'UTC');
      EXIT WHEN p > q;  -- [x, y) lies inside one coarser bucket
      out_grain := out_grain || g;
      out_lo := out_lo || x;
      out_hi := out_hi || p;
      tail_grain := g || tail_grain;
      tail_lo := q || tail_lo;
      tail_hi := y || tail_hi;
      x := p;
      y := q;
      g := next_grain;
    END LOOP;
    out_grain := out_grain || g || tail_grain;
    out_lo := out_lo || x || tail_lo;
    out_hi := out_hi || y || tail_hi;
  END LOOP;

  -- Emit in time order, dropping empty pieces and joining neighbours of
  -- one grain (zone boundaries can split a run of days or hours).
  n := coalesce(array_length(out_grain, 1), 0);
  grain := NULL;
  FOR i IN 1 .. n LOOP
    CONTINUE WHEN out_lo[i] >= out_hi[i];
    IF grain = out_grain[i] AND seg_end = out_lo[i] THEN
      seg_end := out_hi[i];
      CONTINUE;
    END IF;
    IF grain IS NOT NULL THEN
      RETURN NEXT;
    END IF;
    grain := out_grain[i];
    seg_start := out_lo[i];
    seg_end := out_hi[i];
  END LOOP;
  IF grain IS NOT NULL THEN
    RETURN NEXT;
  END IF;
END
$$;

-- Activity per collection, with unique users, over [since, until).
-- Raw equivalent: SELECT collection, count(*), count(DISTINCT "user")
-- FROM directus_activity WHERE timestamp >= since AND timestamp < until
-- GROUP BY collection.
-- Reads collection_<grain> through its (bucket, collection) index, one
-- range scan per segment; ~40 rows per day bucket, so 7 days is a few
-- hundred rows whatever the raw volume. Unique users: hll_union_agg of the
-- per-bucket user sketches, estimated once per collection.
CREATE OR REPLACE FUNCTION pulse.collection_activity(
  since timestamptz,
  until timestamptz)
RETURNS TABLE (collection text, activity_count bigint, unique_users bigint)
LANGUAGE sql STABLE
SET jit = off
AS $$
  WITH seg AS MATERIALIZED (
    SELECT * FROM pulse.range_segments(since, until, 'day',
                                       'pulse.collection_activity', true)
  ), r AS (
    SELECT c.collection, c.activity_count, c.users
      FROM seg JOIN pulse.collection_minute c
        ON c.bucket >= seg.seg_start AND c.bucket < seg.seg_end
     WHERE seg.grain = 'minute'
    UNION ALL
    SELECT c.collection, c.activity_count, c.users
      FROM seg JOIN pulse.collection_hour c
        ON c.bucket >= seg.seg_start AND c.bucket < seg.seg_end
     WHERE seg.grain = 'hour'
    UNION ALL
    SELECT c.collection, c.activity_count, c.users
      FROM seg JOIN pulse.collection_day c
        ON c.bucket >= seg.seg_start AND c.bucket < seg.seg_end
     WHERE seg.grain = 'day'
  )
  SELECT r.collection,
         sum(r.activity_count)::bigint,
         -- pulse:if hll
         round({{hll_schema}}.hll_cardinality(
           {{hll_schema}}.hll_union_agg(r.users)))::bigint
         -- pulse:else
         NULL::bigint
         -- pulse:end
    FROM r
   GROUP BY r.collection
   ORDER BY 2 DESC, 1
$$;

-- Activity per action and bucket of `granularity` (minute, hour or day).
-- Raw equivalent: SELECT date_trunc(granularity, timestamp, 'UTC'),
-- action, count(*) ... GROUP BY 1, 2.
-- Segments stop at the requested granularity (a day row cannot be split
-- into hours), so 24 hourly buckets read at most 24 hour rows and 118
-- minute rows per (collection, action) through the (bucket, collection,
-- action) index.
CREATE OR REPLACE FUNCTION pulse.action_timeseries(
  since timestamptz,
  until timestamptz,
  granularity text DEFAULT 'hour')
RETURNS TABLE (bucket timestamptz, action text, activity_count bigint)
LANGUAGE sql STABLE
SET jit = off
AS $$
  WITH seg AS MATERIALIZED (
    SELECT * FROM pulse.range_segments(since, until, granularity,
                                       'pulse.action_timeseries', false)
  ), r AS (
    SELECT a.bucket, a.action, a.activity_count
      FROM seg JOIN pulse.activity_minute a
        ON a.bucket >= seg.seg_start AND a.bucket < seg.seg_end
     WHERE seg.grain = 'minute'
    UNION ALL
    SELECT a.bucket, a.action, a.activity_count
      FROM seg JOIN pulse.activity_hour a
        ON a.bucket >= seg.seg_start AND a.bucket < seg.seg_end
     WHERE seg.grain = 'hour'
    UNION ALL
    SELECT a.bucket, a.action, a.activity_count
      FROM seg JOIN pulse.activity_day a
        ON a.bucket >= seg.seg_start AND a.bucket < seg.seg_end
     WHERE seg.grain = 'day'
  )
  SELECT date_trunc(granularity, r.bucket, 'UTC'),
         r.action,
         sum(r.activity_count)::bigint
    FROM r
   GROUP BY 1, 2
   ORDER BY 1, 2
$$;

-- IPs with at least min_actions actions in [since, until), with the number
-- of distinct collections each touched.
-- Raw equivalent: SELECT ip, count(*), count(DISTINCT collection) ...
-- WHERE ip IS NOT NULL GROUP BY ip HAVING count(*) >= min_actions.
-- Reads ip_<grain> through its (bucket, ip) index. One pass, grouped by
-- sorting (enable_hashagg = off): the extension's union state is a fixed
-- 128 KiB per group, so hashing thousands of IPs at once allocates
-- hundreds of MiB and spills, while a sorted group-by holds one state at
-- a time (measured: 34 ms hashed against 13 ms sorted for the last hour
-- of 10M rows). A two-pass variant (counts first, sketches of the busy
-- IPs only, through `ip = ANY (array)`) was fast for an hour but took
-- seconds over days, when thousands of IPs pass the threshold.
CREATE OR REPLACE FUNCTION pulse.suspicious_ips(
  since timestamptz,
  until timestamptz,
  min_actions bigint DEFAULT 100)
RETURNS TABLE (ip text, activity_count bigint, collections_accessed bigint)
LANGUAGE sql STABLE
SET jit = off
SET enable_hashagg = off
AS $$
  WITH seg AS MATERIALIZED (
    SELECT * FROM pulse.range_segments(since, until, 'day',
                                       'pulse.suspicious_ips', true)
  ), r AS (
    SELECT i.ip, i.activity_count, i.collections
      FROM seg JOIN pulse.ip_minute i
        ON i.bucket >= seg.seg_start AND i.bucket < seg.seg_end
     WHERE seg.grain = 'minute'
    UNION ALL
    SELECT i.ip, i.activity_count, i.collections
      FROM seg JOIN pulse.ip_hour i
        ON i.bucket >= seg.seg_start AND i.bucket < seg.seg_end
     WHERE seg.grain = 'hour'
    UNION ALL
    SELECT i.ip, i.activity_count, i.collections
      FROM seg JOIN pulse.ip_day i
        ON i.bucket >= seg.seg_start AND i.bucket < seg.seg_end
     WHERE seg.grain = 'day'
  )
  SELECT r.ip,
         sum(r.activity_count)::bigint,
         -- pulse:if hll
         round({{hll_schema}}.hll_cardinality(
           {{hll_schema}}.hll_union_agg(r.collections)))::bigint
         -- pulse:else
         NULL::bigint
         -- pulse:end
    FROM r
   GROUP BY r.ip
  HAVING sum(r.activity_count) >= min_actions
   ORDER BY 2 DESC, 1
$$;

-- Per user: activity and distinct collections in [since, until).
-- Raw equivalent: SELECT "user"::text, count(*), count(DISTINCT
-- collection) ... WHERE "user" IS NOT NULL GROUP BY 1.
-- Reads user_<grain> through its (bucket, user_id) index. This is the
-- heaviest question: every active user has a row per day bucket, so 30
-- days union ~30 small explicit sketches per user (see sink/README.md for
-- measured times).
CREATE OR REPLACE FUNCTION pulse.user_engagement(
  since timestamptz,
  until timestamptz)
RETURNS TABLE ("user" text, activity_count bigint,
               collections_accessed bigint)
LANGUAGE sql STABLE
SET jit = off
AS $$
  WITH seg AS MATERIALIZED (
    SELECT * FROM pulse.range_segments(since, until, 'day',
                                       'pulse.user_engagement', true)
  ), r AS (
    SELECT u.user_id, u.activity_count, u.collections
      FROM seg JOIN pulse.user_minute u
        ON u.bucket >= seg.seg_start AND u.bucket < seg.seg_end
     WHERE seg.grain = 'minute'
    UNION ALL
    SELECT u.user_id, u.activity_count, u.collections
      FROM seg JOIN pulse.user_hour u
        ON u.bucket >= seg.seg_start AND u.bucket < seg.seg_end
     WHERE seg.grain = 'hour'
    UNION ALL
    SELECT u.user_id, u.activity_count, u.collections
      FROM seg JOIN pulse.user_day u
        ON u.bucket >= seg.seg_start AND u.bucket < seg.seg_end
     WHERE seg.grain = 'day'
  )
  SELECT r.user_id,
         sum(r.activity_count)::bigint,
         -- pulse:if hll
         round({{hll_schema}}.hll_cardinality(
           {{hll_schema}}.hll_union_agg(r.collections)))::bigint
         -- pulse:else
         NULL::bigint
         -- pulse:end
    FROM r
   GROUP BY r.user_id
   ORDER BY 2 DESC, 1
$$;

-- Distinct users in [since, until), of one collection or (NULL) of all.
-- Raw equivalent: SELECT count(DISTINCT "user") ... [AND collection = $3].
-- The union of the per-collection user sketches is the sketch of all
-- users, so no separate all-collections table is needed. With a
-- collection, `c.collection = ...` is an index condition on the second
-- column of (bucket, collection). (`unique_users.collection` names the
-- argument; a bare `collection` would be the column.)
-- Day rows are read first: the union folds every row into one exact
-- (explicit) list, which the extension re-sorts at each step, and starting
-- from the few large day sketches measured twice as fast as starting from
-- the many small minute ones (sink/README.md). A plain aggregate keeps
-- the Append order of the branches.
CREATE OR REPLACE FUNCTION pulse.unique_users(
  since timestamptz,
  until timestamptz,
  collection text DEFAULT NULL)
RETURNS bigint
LANGUAGE sql STABLE
SET jit = off
AS $$
  WITH seg AS MATERIALIZED (
    SELECT * FROM pulse.range_segments(since, until, 'day',
                                       'pulse.unique_users', true)
  ), r AS (
    SELECT c.users
      FROM seg JOIN pulse.collection_day c
        ON c.bucket >= seg.seg_start AND c.bucket < seg.seg_end
     WHERE seg.grain = 'day'
       AND (unique_users.collection IS NULL
            OR c.collection = unique_users.collection)
    UNION ALL
    SELECT c.users
      FROM seg JOIN pulse.collection_hour c
        ON c.bucket >= seg.seg_start AND c.bucket < seg.seg_end
     WHERE seg.grain = 'hour'
       AND (unique_users.collection IS NULL
            OR c.collection = unique_users.collection)
    UNION ALL
    SELECT c.users
      FROM seg JOIN pulse.collection_minute c
        ON c.bucket >= seg.seg_start AND c.bucket < seg.seg_end
     WHERE seg.grain = 'minute'
       AND (unique_users.collection IS NULL
            OR c.collection = unique_users.collection)
  )
  -- pulse:if hll
  SELECT coalesce(round({{hll_schema}}.hll_cardinality(
           {{hll_schema}}.hll_union_agg(r.users)))::bigint, 0)
    FROM r
  -- pulse:else
  SELECT NULL::bigint FROM seg LIMIT 1
  -- pulse:end
$$;

-- How fresh the rollups are: the newest event time any partition has
-- applied, and how far behind the clock that is. NULL before the first
-- event. The newest (not the oldest) partition is reported because an
-- idle partition legitimately stays old. partition_state has one row per
-- topic partition, so a sequential scan is the right plan.
CREATE OR REPLACE FUNCTION pulse.freshness()
RETURNS TABLE (newest_event_time timestamptz, lag interval)
LANGUAGE sql STABLE
AS $$
  SELECT max(p.newest_event_time), now() - max(p.newest_event_time)
    FROM pulse.partition_state p
$$;
