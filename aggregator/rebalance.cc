// Partitions arriving and leaving.

#include <fmt/format.h>

#include "aggregator/aggregator_internal.h"
#include "common/shutdown.h"

namespace pulse::aggregator {

namespace {

// Restore attempts while PostgreSQL is away: about 20 s of backoff.
constexpr int kMaxRestoreAttempts = 8;

}  // namespace

void Aggregator::OnRebalance(rd_kafka_resp_err_t err,
                             rd_kafka_topic_partition_list_t* partitions) {
  if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
    Status st = Assign(partitions);
    if (!st.ok() && fatal_.ok()) {
      fatal_ = st;
    }
    return;
  }
  Revoke(partitions);
  rd_kafka_assign(consumer_.get(), nullptr);
}

Status Aggregator::Assign(rd_kafka_topic_partition_list_t* partitions) {
  // Whoever owned these partitions before may have published rollups the
  // sink has not applied yet; the sink's records are exact only after.
  PULSE_RETURN_IF_ERROR(sink_->WaitForDrain(producer_.get()));

  for (int i = 0; i < partitions->cnt; ++i) {
    rd_kafka_topic_partition_t& tp = partitions->elems[i];
    std::unique_ptr<PartitionWork> work;
    PULSE_RETURN_IF_ERROR(RestoreWithRetry(tp.partition, work));
    tp.offset = work->to >= 0 ? work->to : RD_KAFKA_OFFSET_BEGINNING;
    work_[tp.partition] = std::move(work);
  }
  m_.partitions.Set(static_cast<double>(work_.size()));
  return KafkaStatus(rd_kafka_assign(consumer_.get(), partitions), "assign");
}

Status Aggregator::RestoreWithRetry(int32_t partition,
                                    std::unique_ptr<PartitionWork>& out) {
  std::chrono::milliseconds backoff(200);
  for (int attempt = 1;; ++attempt) {
    // A failed attempt may have restored part of the windows: start anew.
    auto work = std::make_unique<PartitionWork>(partition, &o_.rules);
    Status st = Restore(*work);
    if (st.ok()) {
      out = std::move(work);
      return st;
    }
    if (st.code() != Status::Code::kUnavailable ||
        attempt >= kMaxRestoreAttempts) {
      return st;
    }
    log_.Warn("database_unavailable", {{"partition", partition},
                                       {"error", st.message()},
                                       {"retry_in_ms", backoff.count()}});
    if (StopSignal::Get().WaitFor(backoff)) {
      return Status::Cancelled("stop requested while restoring a partition");
    }
    backoff = std::min(backoff * 2, std::chrono::milliseconds(5000));
  }
}

Status Aggregator::Restore(PartitionWork& w) {
  const std::string& topic = o_.topics.activity;
  PULSE_ASSIGN_OR_RETURN(std::optional<PartitionRecord> sink,
                         sink_->Load(topic, w.partition));
  PULSE_ASSIGN_OR_RETURN(std::optional<PartitionRecord> local,
                         store_->Load(topic, w.partition));

  // Where to resume: the sink's offset on this broker; on a new broker
  // incarnation (the embedded broker restarted, offsets from zero), from
  // its beginning, keeping the source position so replays are skipped.
  if (sink) {
    w.record = *sink;
  }
  bool same_cluster = sink && sink->cluster_id == cluster_id_;
  w.from = w.to = same_cluster ? sink->next_offset : -1;
  w.record.cluster_id = cluster_id_;
  w.record.generation += 1;  // fences batches of any previous owner
  w.position = w.record.position;
  w.newest_event_time = w.record.newest_event_time;

  // Alert windows: the local copy when it is exactly the sink's state,
  // else rebuilt from the sink's tables (written with its offset).
  bool local_exact = same_cluster && local &&
                     local->cluster_id == sink->cluster_id &&
                     local->next_offset == sink->next_offset;
  if (local_exact) {
    PULSE_RETURN_IF_ERROR(store_->LoadWindows(
        topic, w.partition,
        {.minute =
             [&](std::string_view ip, const MinuteCounts& m) {
               w.alerts.RestoreMinute(ip, m);
             },
         .cooldowns =
             [&](std::string_view ip, int64_t s, int64_t l) {
               w.alerts.RestoreCooldowns(ip, s, l);
             }}));
  } else {
    PULSE_ASSIGN_OR_RETURN(SinkState::Windows windows,
                           sink_->LoadWindows(w.newest_event_time, o_.rules));
    std::map<std::string, IpChange> changes;
    for (const auto& [ip, m] : windows.minutes) {
      w.alerts.RestoreMinute(ip, m);
      IpChange& c = changes[ip];
      c.ip = ip;
      c.minutes.push_back(m);
    }
    for (const auto& [ip, suspicious, login] : windows.cooldowns) {
      w.alerts.RestoreCooldowns(ip, suspicious, login);
      IpChange& c = changes[ip];
      c.ip = ip;
      c.cooldowns.emplace(suspicious, login);
    }
    std::vector<IpChange> list;
    for (auto& [ip, c] : changes) {
      list.push_back(std::move(c));
    }
    PartitionRecord r = w.record;
    r.next_offset = w.to;
    PULSE_RETURN_IF_ERROR(store_->Commit(topic, w.partition, r, list,
                                         /*replace=*/true));
  }

  log_.Info("partition_assigned",
            {{"partition", w.partition},
             {"offset", w.to},
             {"generation", w.record.generation},
             {"alert_windows", static_cast<int64_t>(w.alerts.size())},
             {"from", local_exact ? "local" : "sink"}});
  return Status::Ok();
}

void Aggregator::Revoke(rd_kafka_topic_partition_list_t* partitions) {
  // Publish what was read, so the next owner resumes right after it.
  std::vector<int32_t> revoked;
  for (int i = 0; i < partitions->cnt; ++i) {
    revoked.push_back(partitions->elems[i].partition);
  }
  Status st = Flush(&revoked);
  if (!st.ok() && fatal_.ok()) {
    fatal_ = st;
  }
  for (int32_t p : revoked) {
    work_.erase(p);
    log_.Info("partition_revoked", {{"partition", p}});
  }
  m_.partitions.Set(static_cast<double>(work_.size()));
}

}  // namespace pulse::aggregator
