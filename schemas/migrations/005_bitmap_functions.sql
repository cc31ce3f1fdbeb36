-- Pulse dashboard questions, version 5: distinct collections per user and
-- per IP from the bitmaps of 004_collection_bits.sql.
--
-- Both functions group the rows of their range once (g): the activity
-- sum, the bit_or of the bitmaps, and whether any row of the key had no
-- bitmap (NULL). A key whose rows all have one is answered by bit_count,
-- exactly. Only keys with a NULL row go through the sketches (f), and the
-- uncorrelated EXISTS makes that a one-time filter: when no key needs it
-- (the usual case once the bitmaps are written) the sketch branch is not
-- run at all (EXPLAIN: "One-Time Filter: $n" and "never executed").
-- r is NOT MATERIALIZED so that each use re-reads the few rows it needs
-- instead of copying every row of the range into a tuplestore.
--
-- g may group by hashing (its state is a few bytes per key), f must not:
-- the extension's union state is a fixed 128 KiB per group, so hashing
-- thousands of keys allocates hundreds of MiB and spills, while a sorted
-- group-by holds one state at a time. An aggregate with ORDER BY is never
-- hashed, so f's `ORDER BY r.k` (constant within a group, so it costs a
-- trivial sort) keeps f sorted while g may hash. Measured at 1M rows:
-- suspicious_ips over 7 days 46 ms with the whole function sorting
-- (SET enable_hashagg = off, as version 2 had) and 23 ms this way.
--
-- Without the hll extension a key with a NULL row has a NULL count here,
-- which `pulse query` fills from the sketches; keys with bitmaps are
-- answered in SQL either way.
--
-- Functions only, so the file runs again when bytea sketches become hll
-- (sink/README.md).

-- Per user: activity and distinct collections in [since, until).
-- Raw equivalent: SELECT "user"::text, count(*), count(DISTINCT
-- collection) ... WHERE "user" IS NOT NULL GROUP BY 1.
-- Reads user_<grain> through its (bucket, user_id) index.
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
                                       'pulse.user_engagement', false)
  ), r AS NOT MATERIALIZED (
    SELECT u.user_id AS k, u.activity_count, u.collections_bits AS bits,
           u.collections
      FROM seg JOIN pulse.user_minute u
        ON u.bucket >= seg.seg_start AND u.bucket < seg.seg_end
     WHERE seg.grain = 'minute'
    UNION ALL
    SELECT u.user_id, u.activity_count, u.collections_bits, u.collections
      FROM seg JOIN pulse.user_hour u
        ON u.bucket >= seg.seg_start AND u.bucket < seg.seg_end
     WHERE seg.grain = 'hour'
    UNION ALL
    SELECT u.user_id, u.activity_count, u.collections_bits, u.collections
      FROM seg JOIN pulse.user_day u
        ON u.bucket >= seg.seg_start AND u.bucket < seg.seg_end
     WHERE seg.grain = 'day'
  ), g AS MATERIALIZED (
    SELECT r.k, sum(r.activity_count)::bigint AS n,
           bit_count(bit_or(r.bits)) AS known,
           count(*) > count(r.bits) AS unknown
      FROM r
     GROUP BY r.k
  -- pulse:if hll
  ), f AS MATERIALIZED (
    SELECT r.k, round({{hll_schema}}.hll_cardinality(
             {{hll_schema}}.hll_union_agg(r.collections ORDER BY r.k)))::bigint
           AS c
      FROM r
     WHERE EXISTS (SELECT 1 FROM g WHERE g.unknown)
       AND r.k IN (SELECT g.k FROM g WHERE g.unknown)
     GROUP BY r.k
  )
  SELECT g.k, g.n, CASE WHEN g.unknown THEN f.c ELSE g.known END
    FROM g LEFT JOIN f ON f.k = g.k
  -- pulse:else
  )
  SELECT g.k, g.n, CASE WHEN g.unknown THEN NULL ELSE g.known END
    FROM g
  -- pulse:end
   ORDER BY 2 DESC, 1
$$;

-- IPs with at least min_actions actions in [since, until), with the number
-- of distinct collections each touched.
-- Raw equivalent: SELECT ip, count(*), count(DISTINCT collection) ...
-- WHERE ip IS NOT NULL GROUP BY ip HAVING count(*) >= min_actions.
-- Reads ip_<grain> through its (bucket, ip) index.
CREATE OR REPLACE FUNCTION pulse.suspicious_ips(
  since timestamptz,
  until timestamptz,
  min_actions bigint DEFAULT 100)
RETURNS TABLE (ip text, activity_count bigint, collections_accessed bigint)
LANGUAGE sql STABLE
SET jit = off
AS $$
  WITH seg AS MATERIALIZED (
    SELECT * FROM pulse.range_segments(since, until, 'day',
                                       'pulse.suspicious_ips', false)
  ), r AS NOT MATERIALIZED (
    SELECT i.ip AS k, i.activity_count, i.collections_bits AS bits,
           i.collections
      FROM seg JOIN pulse.ip_minute i
        ON i.bucket >= seg.seg_start AND i.bucket < seg.seg_end
     WHERE seg.grain = 'minute'
    UNION ALL
    SELECT i.ip, i.activity_count, i.collections_bits, i.collections
      FROM seg JOIN pulse.ip_hour i
        ON i.bucket >= seg.seg_start AND i.bucket < seg.seg_end
     WHERE seg.grain = 'hour'
    UNION ALL
    SELECT i.ip, i.activity_count, i.collections_bits, i.collections
      FROM seg JOIN pulse.ip_day i
        ON i.bucket >= seg.seg_start AND i.bucket < seg.seg_end
     WHERE seg.grain = 'day'
  ), g AS MATERIALIZED (
    SELECT r.k, sum(r.activity_count)::bigint AS n,
           bit_count(bit_or(r.bits)) AS known,
           count(*) > count(r.bits) AS unknown
      FROM r
     GROUP BY r.k
    HAVING sum(r.activity_count) >= min_actions
  -- pulse:if hll
  ), f AS MATERIALIZED (
    SELECT r.k, round({{hll_schema}}.hll_cardinality(
             {{hll_schema}}.hll_union_agg(r.collections ORDER BY r.k)))::bigint
           AS c
      FROM r
     WHERE EXISTS (SELECT 1 FROM g WHERE g.unknown)
       AND r.k IN (SELECT g.k FROM g WHERE g.unknown)
     GROUP BY r.k
  )
  SELECT g.k, g.n, CASE WHEN g.unknown THEN f.c ELSE g.known END
    FROM g LEFT JOIN f ON f.k = g.k
  -- pulse:else
  )
  SELECT g.k, g.n, CASE WHEN g.unknown THEN NULL ELSE g.known END
    FROM g
  -- pulse:end
   ORDER BY 2 DESC, 1
$$;
