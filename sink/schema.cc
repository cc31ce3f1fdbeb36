#include "sink/schema.h"

#include <fmt/format.h>

#include "common/log.h"
#include "sink/migrations.h"
#include "sink/notices.h"

namespace pulse::sink {

namespace {

// The bookkeeping table, created before any migration so that the version
// can be read even from a database no migration has touched.
constexpr std::string_view kSchemaVersionDdl =
    "CREATE TABLE IF NOT EXISTS pulse.schema_version (\n"
    "  version integer PRIMARY KEY,\n"
    "  name text NOT NULL,\n"
    "  applied_at timestamptz NOT NULL DEFAULT now()\n"
    ");\n";

// Holds the schema advisory lock of a session until destroyed; the lock
// also ends with the session if the process dies.
class SchemaLock {
 public:
  explicit SchemaLock(PgConn& conn) : conn_(conn) {}
  ~SchemaLock() {
    if (held_) {
      conn_
          .Exec("SELECT pg_advisory_unlock($1)",
                {std::to_string(kSchemaLockKey)})
          .status()
          .IgnoreError();  // the session's end releases it anyway
    }
  }
  SchemaLock(const SchemaLock&) = delete;
  SchemaLock& operator=(const SchemaLock&) = delete;

  Status Acquire() {
    PULSE_RETURN_IF_ERROR(conn_
                              .Exec("SELECT pg_advisory_lock($1)",
                                    {std::to_string(kSchemaLockKey)})
                              .status()
                              .WithContext("taking the schema lock"));
    held_ = true;
    return Status::Ok();
  }

 private:
  PgConn& conn_;
  bool held_ = false;
};

Status NewerSchemaError(int db_version) {
  return Status::FailedPrecondition(fmt::format(
      "the analytics database's schema is at version {} "
      "(pulse.schema_version), but this pulse binary knows versions up to {}: "
      "a newer pulse has upgraded it. Run that newer pulse (or restore the "
      "database from before the upgrade); this binary leaves the schema "
      "untouched",
      db_version, NewestMigrationVersion()));
}

Result<bool> SchemaVersionTableExists(PgConn& conn) {
  PULSE_ASSIGN_OR_RETURN(
      PgResult r,
      conn.Exec("SELECT to_regclass('pulse.schema_version') IS NOT NULL"));
  return r.Get(0, 0) == "t";
}

Result<int> AppliedVersion(PgConn& conn) {
  PULSE_ASSIGN_OR_RETURN(
      PgResult r,
      conn.Exec("SELECT coalesce(max(version), 0) FROM pulse.schema_version"));
  return static_cast<int>(r.GetInt(0, 0));
}

// "hll", "bytea", or empty when the rollup tables do not exist yet. The
// column type is the truth; pulse.settings only mirrors it for SQL.
Result<std::string> ExistingSketchType(PgConn& conn) {
  PULSE_ASSIGN_OR_RETURN(
      PgResult r,
      conn.Exec("SELECT t.typname FROM pg_attribute a "
                "JOIN pg_type t ON t.oid = a.atttypid "
                "WHERE a.attrelid = to_regclass('pulse.collection_minute') "
                "AND a.attname = 'users'"));
  return r.rows() == 0 ? std::string() : r.GetString(0, 0);
}

// The quoted schema of the installed hll extension, or empty.
Result<std::string> HllSchema(PgConn& conn) {
  PULSE_ASSIGN_OR_RETURN(
      PgResult r, conn.Exec("SELECT quote_ident(n.nspname) FROM pg_extension e "
                            "JOIN pg_namespace n ON n.oid = e.extnamespace "
                            "WHERE e.extname = 'hll'"));
  return r.rows() == 0 ? std::string() : r.GetString(0, 0);
}

// Decides the sketch type: a schema keeps the type it was created with; a
// new one gets hll if the extension can be created here.
Result<SchemaInfo> ChooseSketches(PgConn& conn, const Logger& log) {
  PULSE_ASSIGN_OR_RETURN(std::string existing, ExistingSketchType(conn));
  if (existing.empty()) {
    Status st = conn.Run("CREATE EXTENSION IF NOT EXISTS hll");
    if (!st.ok()) {
      log.Warn("hll_unavailable",
               {{"error", st.message()},
                {"sketch_type", "bytea"},
                {"effect",
                 "SQL functions return counts but NULL unique counts; "
                 "`pulse query` computes unique counts from the sketches"},
                {"fix",
                 "install postgresql-15-hll and run CREATE EXTENSION hll "
                 "as a superuser before the first start"}});
    }
  }

  SchemaInfo info;
  PULSE_ASSIGN_OR_RETURN(info.hll_schema, HllSchema(conn));
  info.hll = existing.empty() ? !info.hll_schema.empty() : existing == "hll";
  return info;
}

// Runs `fn` between BEGIN and COMMIT; on an error, rolls back and returns
// that first error.
template <typename Fn>
Status InTransaction(PgConn& conn, Fn&& fn) {
  PULSE_RETURN_IF_ERROR(conn.Run("BEGIN"));
  Status st = fn();
  if (st.ok()) {
    st = conn.Run("COMMIT");
  }
  if (!st.ok()) {
    conn.Run("ROLLBACK").IgnoreError();  // the first error is the story
  }
  return st;
}

// Applies one migration in its own transaction, recording it in the same
// transaction, so a crash leaves it either fully applied or not at all.
Status ApplyMigration(PgConn& conn, const Migration& m,
                      const TemplateVars& vars) {
  PULSE_ASSIGN_OR_RETURN(std::string sql, RenderMigration(m, vars));
  Status st = InTransaction(conn, [&] {
    PULSE_RETURN_IF_ERROR(conn.Run(sql));
    return conn
        .Exec(
            "INSERT INTO pulse.schema_version (version, name) "
            "VALUES ($1, $2)",
            {std::to_string(m.version), std::string(m.name)})
        .status();
  });
  return st.WithContext(
      fmt::format("migration {:03}_{}.sql", m.version, m.name));
}

// Whether a migration branches on the sketch type (and so, by the rule of
// sink/README.md, only replaces functions and can run again).
bool BranchesOnHll(const Migration& m) {
  return m.text.find("-- pulse:if hll") != std::string_view::npos ||
         m.text.find("{{hll_schema}}") != std::string_view::npos;
}

// Rollup tables created with bytea sketches (no extension at the time)
// once the extension is installed: the sketch columns become hll in place
// (the bytes already are the extension's format), and the applied
// migrations that branch on the sketch type run again with hll, so the
// functions answer unique counts. One transaction; each table is
// rewritten, under a lock that holds readers off meanwhile.
Status ConvertSketchesToHll(PgConn& conn, const std::string& hll_schema,
                            int applied, const Logger& log) {
  static constexpr std::pair<const char*, const char*> kSketchColumns[] = {
      {"collection", "users"}, {"user", "collections"}, {"ip", "collections"}};
  static constexpr const char* kGrains[] = {"minute", "hour", "day"};
  log.Info("sketch_conversion_started", {{"from", "bytea"}, {"to", "hll"}});
  const TemplateVars vars{.hll = true, .hll_schema = hll_schema};
  Status st = InTransaction(conn, [&]() -> Status {
    for (const auto& [kind, column] : kSketchColumns) {
      for (const char* grain : kGrains) {
        PULSE_RETURN_IF_ERROR(conn.Run(fmt::format(
            "ALTER TABLE pulse.{0}_{1} ALTER COLUMN {2} TYPE {3}.hll "
            "USING {2}::{3}.hll",
            kind, grain, column, hll_schema)));
      }
    }
    for (const Migration& m : EmbeddedMigrations()) {
      if (m.version <= applied && BranchesOnHll(m)) {
        PULSE_ASSIGN_OR_RETURN(std::string sql, RenderMigration(m, vars));
        PULSE_RETURN_IF_ERROR(conn.Run(sql));
      }
    }
    return Status::Ok();
  });
  if (!st.ok()) {
    return st.WithContext("converting bytea sketch columns to hll");
  }
  log.Info("sketch_conversion_done", {{"tables", 9}});
  return Status::Ok();
}

// Settings are rewritten at every start so the SQL functions always see
// the retention this sink enforces.
Status WriteSettings(PgConn& conn, const RetentionSettings& r, bool hll) {
  const std::pair<std::string, std::string> settings[] = {
      {"retention.minute", RetentionText(r.minute)},
      {"retention.hour", RetentionText(r.hour)},
      {"retention.day", RetentionText(r.day)},
      {"sketch_type", hll ? "hll" : "bytea"},
  };
  Status st = InTransaction(conn, [&] {
    for (const auto& [key, value] : settings) {
      PULSE_RETURN_IF_ERROR(
          conn.Exec("INSERT INTO pulse.settings (key, value) "
                    "VALUES ($1, $2) ON CONFLICT (key) DO UPDATE "
                    "SET value = EXCLUDED.value, updated_at = now()",
                    {key, value})
              .status());
    }
    return Status::Ok();
  });
  return st.WithContext("writing pulse.settings");
}

}  // namespace

RetentionSettings RetentionSettings::FromConfig(const Config& config) {
  RetentionSettings r;
  r.minute = config.GetDuration("retention.minute");
  r.hour = config.GetDuration("retention.hour");
  r.day = config.GetDuration("retention.day");
  return r;
}

std::string TargetUrl(const Config& config) {
  const std::string& target = config.GetString("target.url");
  return target.empty() ? config.GetString("source.url") : target;
}

std::string RetentionText(std::chrono::milliseconds d) {
  const int64_t ms = d.count();
  if (ms == 0) {
    return "0";
  }
  struct Unit {
    int64_t ms;
    const char* name;
  };
  constexpr Unit kUnits[] = {{86'400'000, "days"},
                             {3'600'000, "hours"},
                             {60'000, "minutes"},
                             {1'000, "seconds"}};
  for (const Unit& u : kUnits) {
    if (ms % u.ms == 0) {
      return fmt::format("{} {}", ms / u.ms, u.name);
    }
  }
  return fmt::format("{} milliseconds", ms);
}

Result<SchemaInfo> MigrateSchema(PgConn& conn, const RetentionSettings& r) {
  Logger log("sink");
  PULSE_RETURN_IF_ERROR(ValidateMigrations(EmbeddedMigrations()));

  // "already exists, skipping" and the like: debug lines, not stderr.
  NoticeCollector notices(conn);

  // One migrator at a time; the others wait here, then find nothing to do.
  SchemaLock lock(conn);
  PULSE_RETURN_IF_ERROR(lock.Acquire());

  // The schema is created only when absent: CREATE SCHEMA checks the
  // database privilege even with IF NOT EXISTS, and the sink's role may
  // own the schema without holding CREATE on the database.
  PULSE_ASSIGN_OR_RETURN(PgResult ns,
                         conn.Exec("SELECT to_regnamespace('pulse') IS NULL"));
  if (ns.Get(0, 0) == "t") {
    PULSE_RETURN_IF_ERROR(conn.Run("CREATE SCHEMA pulse"));
  }
  PULSE_RETURN_IF_ERROR(conn.Run(kSchemaVersionDdl));

  // A schema from a newer binary may hold tables or functions this one
  // would misread or overwrite.
  PULSE_ASSIGN_OR_RETURN(int applied, AppliedVersion(conn));
  const int newest = NewestMigrationVersion();
  if (applied > newest) {
    return NewerSchemaError(applied);
  }

  PULSE_ASSIGN_OR_RETURN(SchemaInfo info, ChooseSketches(conn, log));
  if (!info.hll && !info.hll_schema.empty()) {
    // Created with bytea sketches; the extension has been installed since.
    PULSE_RETURN_IF_ERROR(
        ConvertSketchesToHll(conn, info.hll_schema, applied, log));
    info.hll = true;
  }
  TemplateVars vars{.hll = info.hll, .hll_schema = info.hll_schema};
  for (const Migration& m : EmbeddedMigrations()) {
    if (m.version <= applied) {
      continue;
    }
    PULSE_RETURN_IF_ERROR(ApplyMigration(conn, m, vars));
    log.Info("migration_applied", {{"version", m.version}, {"name", m.name}});
  }
  info.version = newest;

  PULSE_RETURN_IF_ERROR(WriteSettings(conn, r, info.hll));
  for (const std::string& n : notices.Take()) {
    log.Debug("schema_notice", {{"message", n}});
  }
  log.Info("schema_ready", {{"version", info.version},
                            {"previous_version", applied},
                            {"sketch_type", info.hll ? "hll" : "bytea"},
                            {"retention_minute", RetentionText(r.minute)},
                            {"retention_hour", RetentionText(r.hour)},
                            {"retention_day", RetentionText(r.day)}});
  return info;
}

Result<SchemaInfo> CheckSchema(PgConn& conn) {
  // No bookkeeping table: nothing was ever migrated here.
  PULSE_ASSIGN_OR_RETURN(bool exists, SchemaVersionTableExists(conn));
  PULSE_ASSIGN_OR_RETURN(int applied,
                         exists ? AppliedVersion(conn) : Result<int>(0));
  const int newest = NewestMigrationVersion();
  if (applied == 0) {
    return Status::FailedPrecondition(
        "no Pulse schema in this database (pulse.schema_version is missing "
        "or empty): point target.url (PULSE_TARGET_URL) at the analytics "
        "database, or start `pulse sink` against it once to create the "
        "schema");
  }
  if (applied > newest) {
    return NewerSchemaError(applied);
  }
  if (applied < newest) {
    return Status::FailedPrecondition(fmt::format(
        "the analytics database's schema is at version {}, older than this "
        "pulse binary's {}: start `pulse sink` of this version once to "
        "migrate it, or use the pulse binary that matches the database",
        applied, newest));
  }

  // The sketch type decides how unique counts are answered.
  SchemaInfo info;
  info.version = applied;
  PULSE_ASSIGN_OR_RETURN(std::string sketch, ExistingSketchType(conn));
  info.hll = sketch == "hll";
  PULSE_ASSIGN_OR_RETURN(info.hll_schema, HllSchema(conn));
  return info;
}

Result<std::string> SchemaSql(bool hll, const std::string& hll_schema) {
  PULSE_RETURN_IF_ERROR(ValidateMigrations(EmbeddedMigrations()));
  std::string sql = "CREATE SCHEMA IF NOT EXISTS pulse;\n";
  sql += kSchemaVersionDdl;
  TemplateVars vars{.hll = hll, .hll_schema = hll_schema};
  for (const Migration& m : EmbeddedMigrations()) {
    PULSE_ASSIGN_OR_RETURN(std::string rendered, RenderMigration(m, vars));
    sql += fmt::format("\n-- migration {:03}_{}\n", m.version, m.name);
    sql += rendered;
    // The name is a file name checked by embed_migrations.cmake to be
    // [a-z0-9_]+, never data, so it is safe as a literal.
    sql += fmt::format(
        "\nINSERT INTO pulse.schema_version (version, name) "
        "VALUES ({}, '{}');\n",
        m.version, m.name);
  }
  return sql;
}

}  // namespace pulse::sink
