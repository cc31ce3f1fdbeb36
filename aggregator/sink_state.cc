#include "aggregator/sink_state.h"

#include <fmt/format.h>

#include "common/kafka.h"
#include "common/log.h"
#include "common/shutdown.h"

namespace pulse::aggregator {

namespace {

// Tables the sink creates; before its first start they do not exist, which
// means it holds nothing yet.
bool Missing(const Status& st) {
  return st.code() == Status::Code::kFailedPrecondition &&
         st.message().find("42P01") != std::string::npos;
}

}  // namespace

SinkState::SinkState(std::string url, std::string rollups_topic)
    : url_(std::move(url)), rollups_topic_(std::move(rollups_topic)) {}

Status SinkState::Connect() {
  if (conn_.connected()) {
    return Status::Ok();
  }
  PULSE_ASSIGN_OR_RETURN(conn_, PgConn::Connect(url_, "pulse-aggregator"));
  return Status::Ok();
}

Result<std::map<int32_t, int64_t>> SinkState::SinkOffsets(
    const std::string& cluster) {
  PULSE_RETURN_IF_ERROR(Connect());
  auto r = conn_.Exec(
      "SELECT partition, next_offset FROM pulse.sink_offsets "
      "WHERE topic = $1 AND cluster_id = $2",
      {rollups_topic_, cluster});
  std::map<int32_t, int64_t> out;
  if (!r.ok()) {
    if (Missing(r.status())) {
      return out;
    }
    conn_ = PgConn();
    return r.status();
  }
  for (int i = 0; i < r->rows(); ++i) {
    out[static_cast<int32_t>(r->GetInt(i, 0))] = r->GetInt(i, 1);
  }
  return out;
}

Status SinkState::WaitForDrain(rd_kafka_t* rk) {
  Logger log("aggregator");
  PULSE_ASSIGN_OR_RETURN(std::string cluster, BrokerIncarnation(rk, 10000));
  PULSE_ASSIGN_OR_RETURN(int partitions,
                         PartitionCount(rk, rollups_topic_, 10000));

  // The end of each rollups partition now: everything up to it must be
  // applied before a partition's record can be trusted.
  std::map<int32_t, int64_t> ends;
  for (int p = 0; p < partitions; ++p) {
    int64_t low = 0, high = 0;
    PULSE_RETURN_IF_ERROR(
        QueryWatermarks(rk, rollups_topic_, p, low, high, 10000));
    if (high > low) {
      ends[p] = high;
    }
  }

  auto started = std::chrono::steady_clock::now();
  auto logged = started;
  while (true) {
    auto applied = SinkOffsets(cluster);
    int64_t behind = 0;
    if (applied.ok()) {
      for (const auto& [p, end] : ends) {
        auto it = applied->find(p);
        behind += end - (it == applied->end() ? 0 : it->second);
      }
      if (behind <= 0) {
        return Status::Ok();
      }
    }
    auto now = std::chrono::steady_clock::now();
    if (now - logged >= std::chrono::seconds(10)) {
      logged = now;
      log.Warn("waiting_for_sink",
               {{"unapplied_messages", behind},
                {"waited_s",
                 std::chrono::duration_cast<std::chrono::seconds>(now - started)
                     .count()},
                {"error", applied.ok() ? "" : applied.status().message()}});
    }
    if (StopSignal::Get().WaitFor(std::chrono::milliseconds(100))) {
      return Status::Cancelled("stop requested while waiting for the sink");
    }
  }
}

Result<std::optional<PartitionRecord>> SinkState::Load(const std::string& topic,
                                                       int32_t partition) {
  PULSE_RETURN_IF_ERROR(Connect());
  auto r = conn_.Exec(
      "SELECT cluster_id, next_offset, generation, "
      "(position_commit_lsn - '0/0')::text, (position_lsn - '0/0')::text, "
      "position_id, coalesce((extract(epoch FROM newest_event_time) * "
      "1000)::bigint, 0), events_applied "
      "FROM pulse.partition_state WHERE topic = $1 AND partition = $2",
      {topic, std::to_string(partition)});
  if (!r.ok()) {
    if (Missing(r.status())) {
      return std::optional<PartitionRecord>();
    }
    conn_ = PgConn();
    return r.status();
  }
  if (r->rows() == 0) {
    return std::optional<PartitionRecord>();
  }
  PartitionRecord rec;
  rec.cluster_id = r->GetString(0, 0);
  rec.next_offset = r->GetInt(0, 1);
  rec.generation = r->GetInt(0, 2);
  rec.position.commit_lsn = Lsn(std::stoull(r->GetString(0, 3)));
  rec.position.lsn = Lsn(std::stoull(r->GetString(0, 4)));
  rec.position.id = r->GetInt(0, 5);
  rec.newest_event_time = r->GetInt(0, 6);
  rec.events_applied = r->GetInt(0, 7);
  return std::optional<PartitionRecord>(rec);
}

Result<SinkState::Windows> SinkState::LoadWindows(EventTimeMs newest,
                                                  const AlertRules& rules) {
  PULSE_RETURN_IF_ERROR(Connect());
  Windows w;
  std::string newest_ms = std::to_string(newest);

  // Minute counts of the longest window up to the newest event, and not
  // past it: other partitions' IPs share the table, and their later
  // minutes would move the engine's event-time clock ahead of this
  // partition, expiring its IPs' windows and cooldowns early (repeated
  // alerts during a backfill). A partition never applied has none.
  auto minutes = conn_.Exec(
      "SELECT ip, (extract(epoch FROM bucket) / 60)::bigint, activity_count, "
      "login_count FROM pulse.ip_minute WHERE bucket > to_timestamp($1::bigint "
      "/ 1000.0) - $2::int * interval '1 minute' AND bucket <= "
      "to_timestamp($1::bigint / 1000.0)",
      {newest_ms, std::to_string(rules.LongestWindow())});
  if (!minutes.ok()) {
    if (Missing(minutes.status())) {
      return w;
    }
    conn_ = PgConn();
    return minutes.status();
  }
  for (int i = 0; i < minutes->rows(); ++i) {
    int64_t m = minutes->GetInt(i, 1);
    w.minutes.emplace_back(
        minutes->GetString(i, 0),
        MinuteCounts{m, minutes->GetInt(i, 2), minutes->GetInt(i, 3),
                     m * kMsPerMinute, (m + 1) * kMsPerMinute - 1});
  }

  // Cooldowns: an alert for the window ending at minute m cools its rule
  // down until m + cooldown.
  auto alerts = conn_.Exec(
      "SELECT ip, max((extract(epoch FROM window_end) / 60)::bigint) FILTER "
      "(WHERE rule = 'suspicious_ip'), max((extract(epoch FROM window_end) "
      "/ 60)::bigint) FILTER (WHERE rule = 'login_burst') FROM pulse.alerts "
      "WHERE window_end > to_timestamp($1::bigint / 1000.0) - $2::int * "
      "interval '1 minute' GROUP BY ip",
      {newest_ms, std::to_string(rules.cooldown_min + 1)});
  if (!alerts.ok()) {
    conn_ = PgConn();
    return alerts.status();
  }
  auto until = [&](int row, int col) {
    return alerts->IsNull(row, col)
               ? INT64_MIN
               : alerts->GetInt(row, col) - 1 + rules.cooldown_min;
  };
  for (int i = 0; i < alerts->rows(); ++i) {
    w.cooldowns.emplace_back(alerts->GetString(i, 0), until(i, 1), until(i, 2));
  }
  return w;
}

Result<int64_t> SinkState::MaxUnapplied(
    const std::map<int32_t, int64_t>& produced, const std::string& cluster) {
  PULSE_ASSIGN_OR_RETURN(auto applied, SinkOffsets(cluster));
  int64_t worst = 0;
  for (const auto& [p, next] : produced) {
    auto it = applied.find(p);
    worst = std::max(worst, next - (it == applied.end() ? 0 : it->second));
  }
  return worst;
}

}  // namespace pulse::aggregator
