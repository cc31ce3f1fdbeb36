#include "ingest/source.h"

#include <fmt/format.h>
#include <libpq-fe.h>

namespace pulse::ingest {

SourceNames MakeSourceNames(const std::string& table,
                            const std::string& publication,
                            const std::string& slot) {
  SourceNames n;
  size_t dot = table.find('.');
  n.schema = dot == std::string::npos ? "public" : table.substr(0, dot);
  n.table = dot == std::string::npos ? table : table.substr(dot + 1);
  n.publication = publication;
  n.slot = slot;
  return n;
}

Status CheckPrerequisites(PgConn& conn, const SourceNames& names,
                          bool need_new_slot) {
  // Logical decoding needs wal_level = logical, which needs a restart.
  PULSE_ASSIGN_OR_RETURN(PgResult wal, conn.Exec("SHOW wal_level"));
  if (wal.Get(0, 0) != "logical") {
    return Status::FailedPrecondition(fmt::format(
        "wal_level is '{}' but logical replication needs 'logical': run "
        "ALTER SYSTEM SET wal_level = logical (or set it in "
        "postgresql.conf) and restart PostgreSQL",
        wal.Get(0, 0)));
  }

  // The role must be allowed to replicate.
  PULSE_ASSIGN_OR_RETURN(
      PgResult role,
      conn.Exec("SELECT current_user, rolreplication OR rolsuper "
                "FROM pg_roles WHERE rolname = current_user"));
  if (role.rows() == 1 && role.Get(0, 1) != "t") {
    return Status::FailedPrecondition(fmt::format(
        "role {0} lacks the REPLICATION attribute: run ALTER ROLE {0} WITH "
        "REPLICATION as a superuser (schemas/roles.sql sets up a "
        "least-privilege source role)",
        role.Get(0, 0)));
  }

  // The table must exist where we look for it.
  PULSE_ASSIGN_OR_RETURN(
      PgResult table,
      conn.Exec("SELECT to_regclass($1) IS NOT NULL, current_database()",
                {names.QualifiedTable()}));
  if (table.Get(0, 0) != "t") {
    return Status::FailedPrecondition(
        fmt::format("table {} not found in database {}: check ingest.table and "
                    "source.url (Directus creates it on first start)",
                    names.QualifiedTable(), table.Get(0, 1)));
  }

  // A new slot needs a free slot and a free WAL sender.
  if (need_new_slot) {
    PULSE_ASSIGN_OR_RETURN(
        PgResult slots,
        conn.Exec("SELECT (SELECT count(*) FROM pg_replication_slots), "
                  "current_setting('max_replication_slots')::int"));
    if (slots.GetInt(0, 0) >= slots.GetInt(0, 1)) {
      return Status::FailedPrecondition(fmt::format(
          "all {} replication slots are in use: raise "
          "max_replication_slots (restart needed) or drop an unused slot "
          "with pg_drop_replication_slot",
          slots.GetInt(0, 1)));
    }
  }
  PULSE_ASSIGN_OR_RETURN(
      PgResult senders,
      conn.Exec("SELECT (SELECT count(*) FROM pg_stat_replication), "
                "current_setting('max_wal_senders')::int"));
  if (senders.GetInt(0, 0) >= senders.GetInt(0, 1)) {
    return Status::FailedPrecondition(fmt::format(
        "all {} WAL senders are busy: raise max_wal_senders (restart "
        "needed)",
        senders.GetInt(0, 1)));
  }
  return Status::Ok();
}

Status EnsurePublication(PgConn& conn, const SourceNames& names,
                         bool new_slot) {
  // An existing publication must publish inserts.
  PULSE_ASSIGN_OR_RETURN(
      PgResult pub,
      conn.Exec("SELECT p.pubinsert, EXISTS (SELECT 1 FROM "
                "pg_publication_tables t WHERE t.pubname = p.pubname AND "
                "t.schemaname = $2 AND t.tablename = $3) "
                "FROM pg_publication p WHERE p.pubname = $1",
                {names.publication, names.schema, names.table}));
  if (pub.rows() == 1) {
    if (pub.Get(0, 0) != "t") {
      return Status::FailedPrecondition(fmt::format(
          "publication {0} exists but does not publish inserts: run ALTER "
          "PUBLICATION {0} SET (publish = 'insert, truncate'), or choose "
          "another ingest.publication",
          names.publication));
    }
    if (pub.Get(0, 1) == "t" || !new_slot) {
      return Status::Ok();
    }

    // Safe only before a new slot: its snapshot copies what the table
    // holds, which the publication never sent.
    std::string sql = fmt::format("ALTER PUBLICATION {} ADD TABLE {}",
                                  conn.QuoteIdent(names.publication),
                                  conn.QuoteIdent(names.QualifiedTable()));
    Status st = conn.Run(sql);
    if (!st.ok()) {
      return Status::FailedPrecondition(fmt::format(
          "publication {} does not publish {} and cannot be changed: {}; "
          "run as the table's owner: {}",
          names.publication, names.QualifiedTable(), st.message(), sql));
    }
    return Status::Ok();
  }

  // Create it: inserts are what we count; truncates are reported.
  std::string sql = fmt::format(
      "CREATE PUBLICATION {} FOR TABLE {} WITH (publish = 'insert, "
      "truncate')",
      conn.QuoteIdent(names.publication),
      conn.QuoteIdent(names.QualifiedTable()));
  Status st = conn.Run(sql);
  if (!st.ok()) {
    return Status::FailedPrecondition(fmt::format(
        "cannot create publication {}: {}; create it as the table's owner: "
        "{}",
        names.publication, st.message(), sql));
  }
  return Status::Ok();
}

Result<TablePublication> InspectTablePublication(PgConn& conn,
                                                 const SourceNames& names) {
  PULSE_ASSIGN_OR_RETURN(
      PgResult r,
      conn.Exec("SELECT coalesce(to_regclass($1)::oid::bigint, 0), EXISTS "
                "(SELECT 1 FROM pg_publication WHERE pubname = $2), EXISTS "
                "(SELECT 1 FROM pg_publication_tables WHERE pubname = $2 AND "
                "schemaname = $3 AND tablename = $4)",
                {names.QualifiedTable(), names.publication, names.schema,
                 names.table}));
  return TablePublication{.table_oid = r.GetInt(0, 0),
                          .publication_exists = r.Get(0, 1) == "t",
                          .published = r.Get(0, 2) == "t"};
}

Result<SlotInfo> InspectSlot(PgConn& conn, const std::string& slot) {
  PULSE_ASSIGN_OR_RETURN(
      PgResult r, conn.Exec("SELECT active, plugin, coalesce(wal_status, ''), "
                            "coalesce(restart_lsn::text, '0/0'), "
                            "coalesce(confirmed_flush_lsn::text, '0/0'), "
                            "database = current_database() "
                            "FROM pg_replication_slots WHERE slot_name = $1",
                            {slot}));
  SlotInfo info;
  if (r.rows() == 0) {
    return info;
  }
  if (r.Get(0, 5) != "t") {
    return Status::FailedPrecondition(fmt::format(
        "replication slot {} belongs to another database: choose another "
        "ingest.slot",
        slot));
  }
  info.exists = true;
  info.active = r.Get(0, 0) == "t";
  info.plugin = r.GetString(0, 1);
  info.wal_status = r.GetString(0, 2);
  info.restart_lsn = Lsn::Parse(r.Get(0, 3)).value_or(Lsn());
  info.confirmed_flush = Lsn::Parse(r.Get(0, 4)).value_or(Lsn());
  return info;
}

Status CheckSlotUsable(const SlotInfo& slot, const std::string& name) {
  if (slot.plugin != "pgoutput") {
    return Status::FailedPrecondition(fmt::format(
        "replication slot {} uses plugin {}, not pgoutput: choose another "
        "ingest.slot",
        name, slot.plugin));
  }
  if (slot.wal_status == "lost") {
    return Status::DataLoss(fmt::format(
        "replication slot {0} is lost: PostgreSQL removed WAL it still "
        "needed (max_slot_wal_keep_size). Rows written since it fell behind "
        "cannot be streamed. To recover, drop the slot "
        "(SELECT pg_drop_replication_slot('{0}')), start `pulse ingest "
        "--recreate-slot`, then run `pulse reconcile` over the gap",
        name));
  }
  return Status::Ok();
}

Result<CreatedSlot> CreateSlot(PgConn& repl, const std::string& slot,
                               bool export_snapshot) {
  std::string sql = fmt::format(
      "CREATE_REPLICATION_SLOT {} LOGICAL pgoutput ({})", repl.QuoteIdent(slot),
      export_snapshot ? "SNAPSHOT 'export'" : "SNAPSHOT 'nothing'");
  PgResult r(PQexec(repl.raw(), sql.c_str()));
  if (r.raw() == nullptr || PQresultStatus(r.raw()) != PGRES_TUPLES_OK) {
    return r.raw() ? StatusFromResult(r.raw(), "CREATE_REPLICATION_SLOT")
                   : Status::Unavailable("CREATE_REPLICATION_SLOT: " +
                                         repl.LastError());
  }
  CreatedSlot out;
  out.consistent_point = Lsn::Parse(r.Get(0, 1)).value_or(Lsn());
  if (!r.IsNull(0, 2)) {
    out.snapshot_name = r.GetString(0, 2);
  }
  return out;
}

Status DropSlot(PgConn& conn, const std::string& slot) {
  return conn
      .Exec(
          "SELECT pg_drop_replication_slot(slot_name) FROM "
          "pg_replication_slots WHERE slot_name = $1",
          {slot})
      .status();
}

Result<std::vector<std::string>> TableColumns(PgConn& conn,
                                              const SourceNames& names) {
  PULSE_ASSIGN_OR_RETURN(
      PgResult r, conn.Exec("SELECT attname FROM pg_attribute WHERE attrelid "
                            "= to_regclass($1) AND attnum > 0 AND NOT "
                            "attisdropped ORDER BY attnum",
                            {names.QualifiedTable()}));
  std::vector<std::string> cols;
  for (int i = 0; i < r.rows(); ++i) {
    cols.push_back(r.GetString(i, 0));
  }
  return cols;
}

}  // namespace pulse::ingest
