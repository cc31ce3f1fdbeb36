-- Pulse rollup schema, version 1.
--
-- Applied by `pulse sink` at start, in one transaction, recorded in
-- pulse.schema_version. The sink replaces {{sketch}} with `hll` when the
-- postgresql-hll extension is available and `bytea` otherwise (same bytes
-- either way: the extension's storage format).
--
-- Every table has a single-column primary key (Directus charts only such
-- tables), plain integer columns beside each sketch, and updated_at.
-- Rollup tables come in three granularities with identical shapes; each
-- row holds the total over every partition of the activity topic (the sink
-- adds each batch's deltas), so readers never sum partials.
--
-- Indexes: each rollup table has one unique index on its natural key, with
-- `bucket` first. The sink upserts through it, and every dashboard question
-- is a bucket range scan, which the same index serves; a second index on
-- the dimension alone would only help per-collection or per-user lookups
-- across all time, which no function does.

-- Schema pulse itself is created by the migration runner (sink/schema.cc)
-- before this file runs, and only when missing: CREATE SCHEMA checks the
-- CREATE privilege on the database even with IF NOT EXISTS, and a sink
-- role that merely owns schema pulse (schemas/roles.sql) lacks it.

-- Activity count per (bucket, collection, action): action_timeseries.
CREATE TABLE pulse.activity_minute (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  bucket timestamptz NOT NULL,
  collection text NOT NULL,
  action text NOT NULL,
  activity_count bigint NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (bucket, collection, action)
);
CREATE TABLE pulse.activity_hour (LIKE pulse.activity_minute INCLUDING ALL);
CREATE TABLE pulse.activity_day (LIKE pulse.activity_minute INCLUDING ALL);

-- Per (bucket, collection): all actions counted, and a sketch of the users
-- (hll_hash_text of the user uuid's text, params hll(15, 5, -1, 1)):
-- collection_activity and unique_users.
CREATE TABLE pulse.collection_minute (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  bucket timestamptz NOT NULL,
  collection text NOT NULL,
  activity_count bigint NOT NULL,
  unique_users bigint NOT NULL,
  users {{sketch}} NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (bucket, collection)
);
CREATE TABLE pulse.collection_hour (LIKE pulse.collection_minute INCLUDING ALL);
CREATE TABLE pulse.collection_day (LIKE pulse.collection_minute INCLUDING ALL);

-- Per (bucket, user): activity and a sketch of the collections touched
-- (hll_hash_text of the collection name; exact below 2,560 collections):
-- user_engagement.
CREATE TABLE pulse.user_minute (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  bucket timestamptz NOT NULL,
  user_id text NOT NULL,
  activity_count bigint NOT NULL,
  collections_count bigint NOT NULL,
  collections {{sketch}} NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (bucket, user_id)
);
CREATE TABLE pulse.user_hour (LIKE pulse.user_minute INCLUDING ALL);
CREATE TABLE pulse.user_day (LIKE pulse.user_minute INCLUDING ALL);

-- Per (bucket, ip), ip as stored (it need not be an address): activity,
-- logins, and a sketch of the collections touched: suspicious_ips.
CREATE TABLE pulse.ip_minute (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  bucket timestamptz NOT NULL,
  ip text NOT NULL,
  activity_count bigint NOT NULL,
  login_count bigint NOT NULL,
  collections_count bigint NOT NULL,
  collections {{sketch}} NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (bucket, ip)
);
CREATE TABLE pulse.ip_hour (LIKE pulse.ip_minute INCLUDING ALL);
CREATE TABLE pulse.ip_day (LIKE pulse.ip_minute INCLUDING ALL);

-- One row per alert; id is stable (rule, ip, window start), so an alert
-- replayed after a crash is the same row.
CREATE TABLE pulse.alerts (
  id text PRIMARY KEY,
  rule text NOT NULL,
  ip text NOT NULL,
  window_start timestamptz NOT NULL,
  window_end timestamptz NOT NULL,
  activity_count bigint NOT NULL,
  collections_count bigint NOT NULL,
  first_seen timestamptz NOT NULL,
  last_seen timestamptz NOT NULL,
  detail jsonb NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX alerts_window_start ON pulse.alerts (window_start);

-- Per partition of the activity topic: the input offset up to which every
-- event is in the rollups above (the aggregators resume here), and what
-- the aggregator needs to carry on exactly: the highest source position
-- applied (replays at or below it are skipped). Its alert windows are
-- rebuilt from ip_minute and alerts, which the same transactions write.
CREATE TABLE pulse.partition_state (
  id text PRIMARY KEY,  -- '<topic>:<partition>'
  topic text NOT NULL,
  partition integer NOT NULL,
  cluster_id text NOT NULL,
  next_offset bigint NOT NULL,
  generation bigint NOT NULL,
  position_commit_lsn pg_lsn NOT NULL,
  position_lsn pg_lsn NOT NULL,
  position_id bigint NOT NULL,
  newest_event_time timestamptz,
  events_applied bigint NOT NULL DEFAULT 0,
  updated_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (topic, partition)
);

-- The sink's own input position on the rollups topic.
CREATE TABLE pulse.sink_offsets (
  id text PRIMARY KEY,  -- '<topic>:<partition>'
  topic text NOT NULL,
  partition integer NOT NULL,
  cluster_id text NOT NULL,
  next_offset bigint NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now()
);

-- Settings the SQL functions read (retention of each granularity, whether
-- sketches are hll), written by the sink at start.
CREATE TABLE pulse.settings (
  key text PRIMARY KEY,
  value text NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now()
);
