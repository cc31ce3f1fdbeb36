-- Least-privilege roles for Pulse. Run once as a superuser (or the owner
-- of the activity table and of the analytics database); re-running is
-- safe and resets the passwords.
--
--   psql "postgresql://postgres@db/directus" \
--     -v source_password=... -v sink_password=... -v reader_password=... \
--     -f schemas/roles.sql
--
-- Variables (psql -v NAME=VALUE), with their defaults:
--   source_role      pulse_source   `pulse ingest`: replication + SELECT
--   sink_role        pulse_sink     `pulse sink`: owns schema pulse
--   reader_role      pulse_reader   dashboards, Directus, `pulse query`
--   source_password, sink_password, reader_password   (required)
--   activity_table   public.directus_activity        (ingest.table)
--   publication      pulse                           (ingest.publication)
--   part             all | source | analytics
--   with_hll         on | off (create the hll extension; needs superuser)
--
-- `part` splits the script when the analytics database is not the Directus
-- database (target.url differs from source.url): run it with part=source
-- on the Directus database and part=analytics on the analytics one. Roles
-- are cluster-wide, so each part creates only the roles it needs.
--
-- `pulse reconcile` reads both sides: give it source.url with the source
-- role and target.url with the reader role.
--
-- Names are interpolated as identifiers (:"name") and passwords as
-- literals (:'password'); the table name is resolved through ::regclass,
-- so a typo fails here rather than granting on something else.

\set ON_ERROR_STOP on

\if :{?source_role}
\else
  \set source_role pulse_source
\endif
\if :{?sink_role}
\else
  \set sink_role pulse_sink
\endif
\if :{?reader_role}
\else
  \set reader_role pulse_reader
\endif
\if :{?activity_table}
\else
  \set activity_table public.directus_activity
\endif
\if :{?publication}
\else
  \set publication pulse
\endif
\if :{?part}
\else
  \set part all
\endif
\if :{?with_hll}
\else
  \set with_hll on
\endif

SELECT :'part' IN ('all', 'source') AS do_source,
       :'part' IN ('all', 'analytics') AS do_analytics,
       :'part' IN ('all', 'source', 'analytics') AS part_ok
\gset
\if :part_ok
\else
  \echo 'roles.sql: part must be all, source or analytics'
  \quit 3
\endif

-- ---------------------------------------------------------------------
-- Source: the Directus database, read by `pulse ingest`.
-- ---------------------------------------------------------------------
\if :do_source
\if :{?source_password}
\else
  \echo 'roles.sql: set -v source_password=...'
  \quit 3
\endif

-- LOGIN to connect; REPLICATION to create the logical slot and stream
-- from it (a replication connection checks this attribute, not a grant).
-- Nothing else: not a superuser, cannot create databases or roles.
SELECT format('CREATE ROLE %I', :'source_role')
 WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'source_role')
\gexec
ALTER ROLE :"source_role" WITH LOGIN REPLICATION NOSUPERUSER NOCREATEDB
  NOCREATEROLE NOINHERIT PASSWORD :'source_password';

-- SELECT on the activity table only: the initial snapshot copies it, and
-- ingest checks the publication covers it. USAGE on its schema, which a
-- schema other than public does not grant to everyone.
SELECT format('GRANT USAGE ON SCHEMA %I TO %I', n.nspname, :'source_role')
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE c.oid = :'activity_table'::regclass
\gexec
SELECT format('GRANT SELECT ON TABLE %s TO %I',
              :'activity_table'::regclass, :'source_role')
\gexec

-- The publication is created here, by the table's owner: CREATE
-- PUBLICATION ... FOR TABLE needs ownership of the table, which the
-- source role must not have. Inserts are what Pulse counts; truncates
-- are reported.
SELECT format('CREATE PUBLICATION %I FOR TABLE %s WITH (publish = %L)',
              :'publication', :'activity_table'::regclass, 'insert, truncate')
 WHERE NOT EXISTS (SELECT FROM pg_publication WHERE pubname = :'publication')
\gexec
\endif

-- ---------------------------------------------------------------------
-- Analytics: the database holding schema pulse (target.url).
-- ---------------------------------------------------------------------
\if :do_analytics
\if :{?sink_password}
\else
  \echo 'roles.sql: set -v sink_password=...'
  \quit 3
\endif
\if :{?reader_password}
\else
  \echo 'roles.sql: set -v reader_password=...'
  \quit 3
\endif

-- The hll extension is untrusted: only a superuser may create it. Doing
-- it here lets the sink, which is not one, use hll sketch columns.
\if :with_hll
CREATE EXTENSION IF NOT EXISTS hll;
\endif

-- The sink: LOGIN, nothing else cluster-wide. It owns schema pulse, so it
-- creates and migrates the tables and functions inside it without any
-- privilege on the database itself (the migration creates the schema
-- only when it is missing). Temporary tables (its staging area) come from
-- the TEMPORARY privilege every role has on a database by default.
SELECT format('CREATE ROLE %I', :'sink_role')
 WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'sink_role')
\gexec
ALTER ROLE :"sink_role" WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE
  NOINHERIT NOREPLICATION PASSWORD :'sink_password';
SELECT format('CREATE SCHEMA %I AUTHORIZATION %I', 'pulse', :'sink_role')
 WHERE NOT EXISTS (SELECT FROM pg_namespace WHERE nspname = 'pulse')
\gexec
ALTER SCHEMA pulse OWNER TO :"sink_role";

-- The reader: LOGIN; USAGE on the schema (to name what is in it), SELECT
-- on its tables (dashboards and Directus chart them directly) and EXECUTE
-- on its functions. No INSERT, UPDATE, DELETE, TRUNCATE or CREATE.
SELECT format('CREATE ROLE %I', :'reader_role')
 WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'reader_role')
\gexec
ALTER ROLE :"reader_role" WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE
  NOINHERIT NOREPLICATION PASSWORD :'reader_password';
GRANT USAGE ON SCHEMA pulse TO :"reader_role";

-- What exists now (when the script runs after the sink has started) ...
GRANT SELECT ON ALL TABLES IN SCHEMA pulse TO :"reader_role";
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA pulse TO :"reader_role";
-- ... and what the sink creates later, in this or a future migration.
ALTER DEFAULT PRIVILEGES FOR ROLE :"sink_role" IN SCHEMA pulse
  GRANT SELECT ON TABLES TO :"reader_role";
ALTER DEFAULT PRIVILEGES FOR ROLE :"sink_role" IN SCHEMA pulse
  GRANT EXECUTE ON FUNCTIONS TO :"reader_role";

-- Functions are executable by PUBLIC by default; only the reader (and the
-- owner) should call these. (Calling them also needs USAGE on the schema,
-- which PUBLIC lacks, so this is belt and braces.)
REVOKE EXECUTE ON ALL FUNCTIONS IN SCHEMA pulse FROM PUBLIC;
ALTER DEFAULT PRIVILEGES FOR ROLE :"sink_role"
  REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC;
\endif
