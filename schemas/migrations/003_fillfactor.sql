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

ALTER TABLE pulse.activity_minute SET (fillfactor = 80);
ALTER TABLE pulse.activity_hour SET (fillfactor = 80);
ALTER TABLE pulse.activity_day SET (fillfactor = 80);
ALTER TABLE pulse.collection_minute SET (fillfactor = 80);
ALTER TABLE pulse.collection_hour SET (fillfactor = 80);
ALTER TABLE pulse.collection_day SET (fillfactor = 80);
ALTER TABLE pulse.user_minute SET (fillfactor = 80);
ALTER TABLE pulse.user_hour SET (fillfactor = 80);
ALTER TABLE pulse.user_day SET (fillfactor = 80);
ALTER TABLE pulse.ip_minute SET (fillfactor = 80);
ALTER TABLE pulse.ip_hour SET (fillfactor = 80);
ALTER TABLE pulse.ip_day SET (fillfactor = 80);
