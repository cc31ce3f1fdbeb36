#include "sink/writer.h"

#include <fmt/format.h>

#include <set>

#include "common/copy_text.h"
#include "common/crash_point.h"
#include "common/log.h"
#include "sink/collection_bits.h"
#include "sink/delta_set.h"
#include "sink/upsert_sql.h"

namespace pulse::sink {

namespace {

// Staging tables live for the session and empty at every commit.
// Commits are synchronous whatever the server's default: the ingest reads
// partition_state to decide which WAL to acknowledge, so a commit must be
// durable before it is visible, or a crash could lose rollups whose rows
// the slot has already released.
constexpr const char* kStagingSql = R"sql(
SET synchronous_commit = on;
SET bytea_output = 'hex';
SET TIME ZONE 'UTC';
CREATE TEMP TABLE IF NOT EXISTS pulse_s_activity (
  grain text, bucket timestamptz, collection text, action text, n bigint
) ON COMMIT DELETE ROWS;
CREATE TEMP TABLE IF NOT EXISTS pulse_s_keys (
  kind text, grain text, bucket timestamptz, name text
) ON COMMIT DELETE ROWS;
CREATE TEMP TABLE IF NOT EXISTS pulse_s_sketch (
  kind text, grain text, bucket timestamptz, name text, n bigint,
  logins bigint, estimate bigint, sketch text, bits varbit
) ON COMMIT DELETE ROWS;
CREATE TEMP TABLE IF NOT EXISTS pulse_s_bits (
  bucket timestamptz, name text, bits varbit
) ON COMMIT DELETE ROWS;
CREATE TEMP TABLE IF NOT EXISTS pulse_s_alert (
  id text, rule text, ip text, window_start timestamptz,
  window_end timestamptz, n bigint, collections bigint,
  first_seen timestamptz, last_seen timestamptz, detail text
) ON COMMIT DELETE ROWS;
)sql";

void AppendTime(std::string& out, EventTimeMs t) {
  char buf[24];
  FormatRfc3339Ms(t, buf);
  out.append(buf, sizeof buf);
}

std::string Hex(std::string_view bytes) { return ByteaHex(bytes); }

Status Copy(PgConn& conn, const char* table, const std::string& data) {
  if (data.empty()) {
    return Status::Ok();
  }
  PULSE_RETURN_IF_ERROR(
      conn.CopyInBegin(fmt::format("COPY {} FROM STDIN", table)));
  PULSE_RETURN_IF_ERROR(conn.CopyInPut(data));
  return conn.CopyInEnd();
}

}  // namespace

Result<Writer> Writer::Connect(const std::string& url, const SchemaInfo& schema,
                               const RetentionSettings& retention) {
  Writer w;
  PULSE_ASSIGN_OR_RETURN(w.conn_, PgConn::Connect(url, "pulse-sink"));
  w.schema_ = schema;
  w.retention_ = retention;
  w.upsert_sql_ = UpsertSql(schema);
  PULSE_RETURN_IF_ERROR(w.conn_.Run(kStagingSql));
  return w;
}

std::array<EventTimeMs, 3> Writer::OldestKept() const {
  EventTimeMs now = NowMs();
  auto oldest = [&](std::chrono::milliseconds keep) {
    return keep.count() > 0 ? now - keep.count() : INT64_MIN;
  };
  return {oldest(retention_.minute), oldest(retention_.hour),
          oldest(retention_.day)};
}

Result<std::map<std::string, Writer::Record>> Writer::LoadRecords(
    const std::vector<Incoming>& batch) {
  std::map<std::string, Record> records;
  std::string ids = "{";
  for (const Incoming& in : batch) {
    std::string id =
        fmt::format("{}:{}", in.message.topic, in.message.partition);
    if (records.emplace(id, Record()).second) {
      ids += (ids.size() > 1 ? "," : "") + fmt::format("\"{}\"", id);
    }
  }
  ids += "}";

  // Locked until commit: the decision and the write are one step.
  PULSE_ASSIGN_OR_RETURN(
      PgResult r,
      conn_.Exec("SELECT id, cluster_id, next_offset, generation, "
                 "events_applied, coalesce((extract(epoch FROM "
                 "newest_event_time) * 1000)::bigint, 0) "
                 "FROM pulse.partition_state WHERE id = ANY($1::text[]) "
                 "FOR UPDATE",
                 {ids}));
  for (int i = 0; i < r.rows(); ++i) {
    Record& rec = records[r.GetString(i, 0)];
    rec.exists = true;
    rec.cluster = r.GetString(i, 1);
    rec.next_offset = r.GetInt(i, 2);
    rec.generation = r.GetInt(i, 3);
    rec.events = r.GetInt(i, 4);
    rec.newest = r.GetInt(i, 5);
  }
  return records;
}

Result<ApplyReport> Writer::Apply(const std::vector<Incoming>& batch,
                                  const std::string& rollups_topic,
                                  const std::string& cluster) {
  Logger log("sink");
  ApplyReport report;
  if (batch.empty()) {
    return report;
  }
  PULSE_RETURN_IF_ERROR(conn_.Run("BEGIN"));
  auto rollback = [&](Status st) {
    conn_.Run("ROLLBACK").IgnoreError();
    return st;
  };
  Status st = conn_
                  .Exec("SELECT pg_advisory_xact_lock($1)",
                        {std::to_string(kSinkLockKey)})
                  .status();
  if (!st.ok()) {
    return rollback(st);
  }
  auto loaded = LoadRecords(batch);
  if (!loaded.ok()) {
    return rollback(loaded.status());
  }
  std::map<std::string, Record>& records = *loaded;

  // Decide each message against its partition's record, in topic order.
  DeltaSet deltas(OldestKept());
  std::vector<const RollupMessage*> applied;
  for (const Incoming& in : batch) {
    const RollupMessage& m = in.message;
    Record& rec = records[fmt::format("{}:{}", m.topic, m.partition)];
    if (m.type == RollupMessage::Type::kClaim) {
      ApplyClaim(m, rec, report);
      continue;
    }
    // A record made by a claim alone stands at no offset yet.
    bool new_broker = rec.exists && rec.cluster != m.cluster;
    bool placed = rec.exists && !new_broker && rec.next_offset >= 0;
    if (placed && m.to <= rec.next_offset) {
      ++report.skipped;
      continue;
    }
    if (rec.exists && m.generation < rec.generation) {
      ++report.rejected;
      log.Error("stale_rollup_rejected",
                {{"partition", m.partition},
                 {"generation", m.generation},
                 {"current_generation", rec.generation}});
      continue;
    }
    if (placed && m.from != rec.next_offset) {
      ++report.rejected;
      log.Error("rollup_out_of_sequence",
                {{"partition", m.partition},
                 {"from", m.from},
                 {"to", m.to},
                 {"expected_from", rec.next_offset},
                 {"fix",
                  "run pulse reconcile; a second aggregator may be "
                  "writing for this partition"}});
      continue;
    }
    if (Status added = deltas.Add(m); !added.ok()) {
      return rollback(added);
    }
    rec = Record{.cluster = m.cluster,
                 .next_offset = m.to,
                 .generation = m.generation,
                 .events = rec.events + m.events,
                 .newest = std::max(rec.newest, m.newest_event_time),
                 .exists = true,
                 .dirty = true,
                 .last = &m,
                 .claim = rec.claim};
    applied.push_back(&m);
    ++report.applied;
    report.events += m.events;
    report.newest_event_time =
        std::max(report.newest_event_time, m.newest_event_time);
  }

  // Write everything, then commit. What a crash before COMMIT replays:
  // the whole batch, which the records above then decide again.
  for (Status s :
       {WriteDeltas(deltas, report), WriteAlerts(applied),
        WriteRecords(records), WriteOffsets(batch, rollups_topic, cluster)}) {
    if (!s.ok()) {
      return rollback(s);
    }
  }
  CrashPoint("sink.before_commit");
  PULSE_RETURN_IF_ERROR(conn_.Run("COMMIT"));
  return report;
}

void Writer::ApplyClaim(const RollupMessage& m, Record& rec,
                        ApplyReport& report) {
  // A new owner's claim fences every older generation from here on: a
  // previous owner still running (expelled from the group but alive) can
  // no longer land a batch the new owner's would then not follow.
  if (rec.exists && m.generation <= rec.generation) {
    ++report.skipped;
    return;
  }
  if (!rec.exists) {
    rec.cluster = m.cluster;
    rec.next_offset = kNoOffset;
    rec.exists = true;
  }
  rec.generation = m.generation;
  rec.dirty = true;
  rec.claim = &m;
  ++report.claims;
  Logger("sink").Info("partition_claimed", {{"partition", m.partition},
                                            {"generation", m.generation}});
}

Status Writer::WriteDeltas(DeltaSet& deltas, ApplyReport& report) {
  if (deltas.empty()) {
    return Status::Ok();
  }

  // Without the hll extension the database cannot union sketches: read
  // the stored ones and union them here. With it, the upsert does.
  auto t0 = std::chrono::steady_clock::now();
  if (!schema_.hll) {
    std::string keys;
    for (const auto& [key, row] : deltas.sketches()) {
      const auto& [kind, grain, bucket, name] = key;
      keys += fmt::format("{}\t{}\t", KindCode(kind), GrainName(grain));
      AppendTime(keys, bucket);
      keys += '\t';
      AppendCopyText(name, keys);
      keys += '\n';
    }
    PULSE_RETURN_IF_ERROR(Copy(conn_, "pulse_s_keys", keys));
    PULSE_RETURN_IF_ERROR(MergeStoredSketches(deltas));
  }
  auto t1 = std::chrono::steady_clock::now();

  // Collections named in this batch get their bitmap numbers first.
  std::set<std::string> names;
  for (const auto& [key, count] : deltas.activity()) {
    names.insert(std::get<2>(key));
  }
  PULSE_ASSIGN_OR_RETURN(CollectionBits bits,
                         CollectionBits::LoadAndRegister(conn_, names));

  // Staging rows: activity deltas, and sketch rows carrying the union
  // and, for users and IPs, its bitmap (NULL when not known from bits).
  std::string activity;
  for (const auto& [key, count] : deltas.activity()) {
    const auto& [grain, bucket, collection, action] = key;
    activity += GrainName(grain);
    activity += '\t';
    AppendTime(activity, bucket);
    activity += '\t';
    AppendCopyText(collection, activity);
    activity += '\t';
    AppendCopyText(action, activity);
    activity += fmt::format("\t{}\n", count);
  }
  std::string sketches;
  for (const auto& [key, row] : deltas.sketches()) {
    const auto& [kind, grain, bucket, name] = key;
    sketches += fmt::format("{}\t{}\t", KindCode(kind), GrainName(grain));
    AppendTime(sketches, bucket);
    sketches += '\t';
    AppendCopyText(name, sketches);
    sketches += fmt::format("\t{}\t{}\t{}\t", row.count, row.logins,
                            row.sketch.Estimate());
    AppendCopyText(Hex(row.sketch.Serialize()), sketches);
    std::optional<std::string> bitmap;
    if (kind != Kind::kCollection) {
      bitmap = bits.BitmapOf(row.sketch);
    }
    sketches += '\t';
    sketches += bitmap ? *bitmap : "\\N";
    sketches += '\n';
  }
  PULSE_RETURN_IF_ERROR(Copy(conn_, "pulse_s_activity", activity));
  PULSE_RETURN_IF_ERROR(Copy(conn_, "pulse_s_sketch", sketches));

  auto t2 = std::chrono::steady_clock::now();
  PULSE_RETURN_IF_ERROR(conn_.Run(upsert_sql_));
  auto t3 = std::chrono::steady_clock::now();
  auto ms = [](auto a, auto b) {
    return std::chrono::duration<double, std::milli>(b - a).count();
  };
  Logger("sink").Debug("deltas_written",
                       {{"rows", static_cast<int64_t>(deltas.rows())},
                        {"merge_ms", ms(t0, t1)},
                        {"stage_ms", ms(t1, t2)},
                        {"upsert_ms", ms(t2, t3)}});
  report.rows["activity"] += static_cast<int64_t>(deltas.activity().size());
  for (const auto& [key, row] : deltas.sketches()) {
    ++report.rows[ColumnsOf(std::get<0>(key)).table];
  }
  return Status::Ok();
}

Status Writer::MergeStoredSketches(DeltaSet& deltas) {
  // One query: the stored sketch of every key staged, all nine tables.
  std::vector<std::string> parts;
  for (Kind k : kKinds) {
    KindColumns c = ColumnsOf(k);
    for (Grain g : kAllGrains) {
      parts.push_back(fmt::format(
          "SELECT k.kind, k.grain, (extract(epoch FROM t.bucket) * "
          "1000)::bigint, t.{0}, t.{1}::text FROM pulse_s_keys k JOIN "
          "pulse.{2}_{3} t ON t.bucket = k.bucket AND t.{0} = k.name "
          "WHERE k.kind = '{4}' AND k.grain = '{3}'",
          c.name, c.sketch, c.table, GrainName(g), KindCode(k)));
    }
  }
  PULSE_ASSIGN_OR_RETURN(
      PgResult r,
      conn_.Exec(fmt::format("{}", fmt::join(parts, " UNION ALL "))));
  for (int i = 0; i < r.rows(); ++i) {
    Kind kind = r.Get(i, 0) == "c"   ? Kind::kCollection
                : r.Get(i, 0) == "u" ? Kind::kUser
                                     : Kind::kIp;
    Grain grain = r.Get(i, 1) == "minute" ? Grain::kMinute
                  : r.Get(i, 1) == "hour" ? Grain::kHour
                                          : Grain::kDay;
    auto it = deltas.sketches().find(
        {kind, grain, r.GetInt(i, 2), r.GetString(i, 3)});
    auto bytes = ParseByteaHex(r.Get(i, 4));
    if (it == deltas.sketches().end() || !bytes) {
      return Status::Internal("stored sketch does not match a staged key");
    }
    PULSE_ASSIGN_OR_RETURN(Hll stored, Hll::Deserialize(*bytes));
    PULSE_RETURN_IF_ERROR(stored.Merge(it->second.sketch));
    it->second.sketch = std::move(stored);
  }
  return Status::Ok();
}

Status Writer::WriteAlerts(const std::vector<const RollupMessage*>& applied) {
  // One row per alert id; a replayed alert is the same row.
  std::string alerts;
  for (const RollupMessage* m : applied) {
    for (const AlertRow& a : m->alerts) {
      AppendCopyText(a.id, alerts);
      alerts += '\t';
      AppendCopyText(a.rule, alerts);
      alerts += '\t';
      AppendCopyText(a.ip, alerts);
      alerts += '\t';
      AppendTime(alerts, a.window_start);
      alerts += '\t';
      AppendTime(alerts, a.window_end);
      alerts += fmt::format("\t{}\t{}\t", a.count, a.collections);
      AppendTime(alerts, a.first_seen);
      alerts += '\t';
      AppendTime(alerts, a.last_seen);
      alerts += '\t';
      AppendCopyText(a.json, alerts);
      alerts += '\n';
    }
  }
  if (alerts.empty()) {
    return Status::Ok();
  }
  PULSE_RETURN_IF_ERROR(Copy(conn_, "pulse_s_alert", alerts));
  return conn_.Run(
      "INSERT INTO pulse.alerts (id, rule, ip, window_start, window_end, "
      "activity_count, collections_count, first_seen, last_seen, detail) "
      "SELECT id, rule, ip, window_start, window_end, n, collections, "
      "first_seen, last_seen, detail::jsonb FROM pulse_s_alert "
      "ON CONFLICT (id) DO NOTHING");
}

Status Writer::WriteRecords(const std::map<std::string, Record>& records) {
  for (const auto& [id, rec] : records) {
    if (!rec.dirty) {
      continue;
    }
    if (rec.last == nullptr) {
      // Claimed, nothing applied: the generation moves, nothing else.
      const RollupMessage& c = *rec.claim;
      PULSE_RETURN_IF_ERROR(
          conn_
              .Exec("INSERT INTO pulse.partition_state (id, topic, "
                    "partition, cluster_id, next_offset, generation, "
                    "position_commit_lsn, position_lsn, position_id) VALUES "
                    "($1, $2, $3, $4, $5, $6, '0/0', '0/0', 0) "
                    "ON CONFLICT (id) DO UPDATE SET generation = "
                    "excluded.generation, updated_at = now()",
                    {id, c.topic, std::to_string(c.partition), rec.cluster,
                     std::to_string(rec.next_offset),
                     std::to_string(rec.generation)})
              .status());
      continue;
    }
    const RollupMessage& m = *rec.last;
    PULSE_RETURN_IF_ERROR(
        conn_
            .Exec("INSERT INTO pulse.partition_state (id, topic, partition, "
                  "cluster_id, next_offset, generation, position_commit_lsn, "
                  "position_lsn, position_id, newest_event_time, "
                  "events_applied) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, "
                  "$9, to_timestamp($10::bigint / 1000.0), $11) "
                  "ON CONFLICT (id) DO UPDATE SET cluster_id = "
                  "excluded.cluster_id, next_offset = excluded.next_offset, "
                  "generation = excluded.generation, position_commit_lsn = "
                  "excluded.position_commit_lsn, position_lsn = "
                  "excluded.position_lsn, position_id = excluded.position_id, "
                  "newest_event_time = excluded.newest_event_time, "
                  "events_applied = excluded.events_applied, updated_at = "
                  "now()",
                  {id, m.topic, std::to_string(m.partition), rec.cluster,
                   std::to_string(rec.next_offset),
                   std::to_string(rec.generation),
                   m.position_commit_lsn.ToString(), m.position_lsn.ToString(),
                   std::to_string(m.position_id), std::to_string(rec.newest),
                   std::to_string(rec.events)})
            .status());
  }
  return Status::Ok();
}

}  // namespace pulse::sink
