-- Pulse rollup schema, version 3: room on each heap page for updates.
--
-- The sink updates rollup rows again and again: live traffic lands in the
-- same minute, hour and day rows at every flush (every 500 ms by default).
-- An update that finds room on the row's own page, and changes no indexed
-- column (counts, sketches and updated_at are not indexed), is a HOT
-- update: PostgreSQL writes no new entries in the primary key or the
-- natural-key index and prunes the dead version on the page. On full pages
-- (the default fillfactor of 100) every update goes elsewhere and adds an
-- entry to both indexes, which the next upsert's conflict check then
-- wades through, and a bucket's rows scatter over the table.
--
-- 80 leaves a fifth of each page free. It applies to pages written from
-- now on; existing pages keep their layout until rewritten (VACUUM FULL
-- or CLUSTER, not needed for correctness).

DO $$
DECLARE
  kind text;
  grain text;
BEGIN
  FOREACH kind IN ARRAY ARRAY['activity', 'collection', 'user', 'ip'] LOOP
    FOREACH grain IN ARRAY ARRAY['minute', 'hour', 'day'] LOOP
      EXECUTE format('ALTER TABLE pulse.%I SET (fillfactor = 80)',
                     kind || '_' || grain);
    END LOOP;
  END LOOP;
END
$$;
