// Partitions arriving and leaving.

#include <fmt/format.h>

#include "aggregator/aggregator_internal.h"
#include "common/json_writer.h"
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
  PULSE_RETURN_IF_ERROR(store_->PrepareForReads());

  std::vector<int32_t> assigned;
  for (int i = 0; i < partitions->cnt; ++i) {
    int32_t p = partitions->elems[i].partition;
    PULSE_RETURN_IF_ERROR(RestoreWithRetry(p, work_[p]));
    assigned.push_back(p);
  }
  PULSE_RETURN_IF_ERROR(Claim(assigned));

  for (int i = 0; i < partitions->cnt; ++i) {
    rd_kafka_topic_partition_t& tp = partitions->elems[i];
    int64_t to = work_[tp.partition]->to;
    tp.offset = to >= 0 ? to : RD_KAFKA_OFFSET_BEGINNING;
  }
  m_.partitions.Set(static_cast<double>(work_.size()));
  return KafkaStatus(rd_kafka_assign(consumer_.get(), partitions), "assign");
}

Status Aggregator::Claim(const std::vector<int32_t>& partitions) {
  // The previous owner may still be running, expelled from the group but
  // alive (paused, cut off from the brokers), and publish a batch later.
  // A claim with our generation makes the sink reject its batches from
  // then on. One that landed between the drain and the claim shows in
  // the record read back: the partition is then restored past it.
  // TODO(#3): two processes restoring the partition before either's claim
  // is stored take the same generation, and neither fences the other.
  // Nothing is counted twice (the sink applies each offset range once,
  // whoever sent it), but if the process losing the partition publishes
  // first, the owner's batches are rejected as out of sequence until the
  // next rebalance. Telling the two apart needs the group's generation,
  // which librdkafka does not expose.
  if (partitions.empty()) {
    return Status::Ok();
  }
  for (int32_t p : partitions) {
    const PartitionWork& w = *work_[p];
    std::string claim;
    JsonWriter j(claim);
    j.BeginObject();
    j.Key("v").Int(kRollupMessageVersion);
    j.Key("type").String("claim");
    j.Key("topic").String(o_.topics.activity);
    j.Key("partition").Int(p);
    j.Key("cluster").String(cluster_id_);
    j.Key("generation").Int(w.record.generation);
    j.EndObject();
    PULSE_RETURN_IF_ERROR(Produce(o_.topics.rollups, std::to_string(p), claim,
                                  nullptr, /*rollup=*/true));
  }
  PULSE_RETURN_IF_ERROR(AwaitDelivery());
  PULSE_RETURN_IF_ERROR(sink_->WaitForDrain(producer_.get()));

  for (int32_t p : partitions) {
    std::unique_ptr<PartitionWork>& w = work_[p];
    PULSE_ASSIGN_OR_RETURN(std::optional<PartitionRecord> now,
                           sink_->Load(o_.topics.activity, p));
    int64_t generation = now ? now->generation : 0;
    int64_t offset =
        now && now->cluster_id == cluster_id_ ? now->next_offset : -1;
    if (generation > w->record.generation) {
      // Claimed again since: this process is the one being replaced,
      // and its batches will be rejected until the group revokes them.
      log_.Warn("partition_claimed_by_newer_owner",
                {{"partition", p},
                 {"generation", w->record.generation},
                 {"newer_generation", generation}});
      continue;
    }
    if (generation < w->record.generation || offset != w->to) {
      log_.Warn(
          "partition_moved_before_claim",
          {{"partition", p}, {"expected_offset", w->to}, {"offset", offset}});
      PULSE_RETURN_IF_ERROR(RestoreWithRetry(p, w));
    }
  }
  return Status::Ok();
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
  // Publish what was read, so the next owner resumes right after it;
  // unless the partitions were lost (this process was expelled): their
  // new owner may have claimed them already and counts from the sink's
  // record, so the open batches are dropped.
  std::vector<int32_t> revoked;
  for (int i = 0; i < partitions->cnt; ++i) {
    revoked.push_back(partitions->elems[i].partition);
  }
  bool lost = rd_kafka_assignment_lost(consumer_.get()) != 0;
  Status st = lost ? Status::Ok() : Flush(&revoked);
  if (!st.ok() && fatal_.ok()) {
    fatal_ = st;
  }
  for (int32_t p : revoked) {
    work_.erase(p);
    if (lost) {
      log_.Warn("partition_lost", {{"partition", p}});
    } else {
      log_.Info("partition_revoked", {{"partition", p}});
    }
  }
  m_.partitions.Set(static_cast<double>(work_.size()));
}

}  // namespace pulse::aggregator
