// Publishing open batches as rollup messages.

#include <fmt/format.h>

#include "aggregator/aggregator_internal.h"
#include "common/crash_point.h"
#include "common/json_writer.h"
#include "common/pg.h"
#include "common/shutdown.h"

namespace pulse::aggregator {

namespace {

constexpr int kDeliveryWaitMs = 1000;

}  // namespace

Status Aggregator::Produce(const std::string& topic, std::string_view key,
                           std::string_view value, rd_kafka_headers_t* headers,
                           bool rollup) {
  while (true) {
    rd_kafka_resp_err_t err = rd_kafka_producev(
        producer_.get(), RD_KAFKA_V_TOPIC(topic.c_str()),
        RD_KAFKA_V_KEY(key.data(), key.size()),
        RD_KAFKA_V_VALUE(const_cast<char*>(value.data()), value.size()),
        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
        RD_KAFKA_V_OPAQUE(rollup ? this : nullptr), RD_KAFKA_V_HEADERS(headers),
        RD_KAFKA_V_END);
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      return Status::Ok();
    }
    if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
      if (headers != nullptr) {
        rd_kafka_headers_destroy(headers);
      }
      return KafkaStatus(err, "produce to " + topic);
    }
    rd_kafka_poll(producer_.get(), 100);
  }
}

Status Aggregator::AwaitDelivery() {
  // Retries are librdkafka's; a message it gives up on (after
  // message.timeout.ms) fails the process, which resumes from the sink.
  while (rd_kafka_outq_len(producer_.get()) > 0) {
    rd_kafka_flush(producer_.get(), kDeliveryWaitMs);
    if (delivery_failures_ > 0) {
      break;
    }
    if (rd_kafka_outq_len(producer_.get()) > 0) {
      log_.Warn("delivery_slow",
                {{"queued", rd_kafka_outq_len(producer_.get())}});
    }
  }
  if (delivery_failures_ > 0) {
    return Status::Unavailable(
        fmt::format("{} messages could not be delivered: {}",
                    delivery_failures_, delivery_error_));
  }
  return Status::Ok();
}

std::string Aggregator::BuildMessage(PartitionWork& w) {
  std::string out;
  out.reserve(w.batch.ApproximateBytes() + 1024);
  {
    JsonWriter j(out);
    j.BeginObject();
    j.Key("v").Int(kRollupMessageVersion);
    j.Key("type").String("batch");
    j.Key("topic").String(o_.topics.activity);
    j.Key("partition").Int(w.partition);
    j.Key("cluster").String(cluster_id_);
    j.Key("generation").Int(w.record.generation);
    j.Key("from").Int(w.from);
    j.Key("to").Int(w.to);
    j.Key("position").BeginObject();
    j.Key("commit_lsn").String(w.position.commit_lsn.ToString());
    j.Key("lsn").String(w.position.lsn.ToString());
    j.Key("id").Int(w.position.id);
    j.EndObject();
    j.Key("newest_event_time").Int(w.newest_event_time);
    j.Key("events").Int(w.batch.events());
    j.Key("duplicates").Int(w.duplicates);
    j.Key("invalid").Int(w.invalid);
    j.Key("ignored").Int(w.ignored);
    j.Key("late").Int(w.late);
  }

  // The deltas, then the alerts and the alert windows that changed.
  w.batch.AppendJsonMembers(out);
  out += ",\"alerts\":[";
  for (size_t i = 0; i < w.fired.size(); ++i) {
    out += i == 0 ? "" : ",";
    w.fired[i].AppendJson(out);
  }
  out += "]}";
  return out;
}

Status Aggregator::Flush(const std::vector<int32_t>* only) {
  auto started = Clock::now();
  last_flush_ = started;
  struct Pending {
    PartitionWork* work;
    std::vector<IpChange> changes;
    std::string message;
  };
  std::vector<Pending> pending;

  // Collect partitions with anything read since their last flush.
  for (auto& [p, w] : work_) {
    bool selected = only == nullptr ||
                    std::find(only->begin(), only->end(), p) != only->end();
    if (selected && w->to > w->from) {
      Pending item{w.get(), {}, {}};
      w->alerts.set_now(NowMs());
      w->alerts.TakeChanges(item.changes);
      item.message = BuildMessage(*w);
      pending.push_back(std::move(item));
    }
  }
  if (pending.empty()) {
    return Status::Ok();
  }

  // Alerts (and dead letters queued while reading) reach their topics
  // before the rollups that record them: a crash in between repeats an
  // alert with the same id rather than losing it.
  bool alerted = false;
  for (const Pending& item : pending) {
    alerted = alerted || !item.work->fired.empty();
    for (const Alert& a : item.work->fired) {
      std::string value;
      a.AppendJson(value);
      PULSE_RETURN_IF_ERROR(Produce(o_.topics.alerts, a.ip, value, nullptr));
      (a.rule == "login_burst" ? m_.alerts_login : m_.alerts_suspicious)
          .Increment();
      log_.Info("alert", {{"id", a.id},
                          {"rule", a.rule},
                          {"count", a.count},
                          {"collections", a.collections}});
    }
  }
  PULSE_RETURN_IF_ERROR(AwaitDelivery());
  if (alerted) {
    CrashPoint("aggregate.after_alerts");
  }

  // The rollup messages, keyed by partition so one partition's messages
  // stay in order; then wait until the brokers have them all.
  for (const Pending& item : pending) {
    std::string key = std::to_string(item.work->partition);
    PULSE_RETURN_IF_ERROR(Produce(o_.topics.rollups, key, item.message, nullptr,
                                  /*rollup=*/true));
    m_.rollup_messages.Increment();
    m_.rollup_bytes.Increment(static_cast<double>(item.message.size()));
  }
  PULSE_RETURN_IF_ERROR(AwaitDelivery());

  // Delivered: the local record moves to `to`. What a crash here replays:
  // nothing, since the sink's record decides where we resume.
  for (Pending& item : pending) {
    PartitionWork& w = *item.work;
    w.record.next_offset = w.to;
    w.record.position = w.position;
    w.record.newest_event_time = w.newest_event_time;
    w.record.events_applied += w.batch.events();
    CrashPoint("aggregate.state_write");
    PULSE_RETURN_IF_ERROR(store_->Commit(o_.topics.activity, w.partition,
                                         w.record, item.changes));
    w.from = w.to;
    w.batch.Clear();
    w.fired.clear();
    w.duplicates = w.invalid = w.ignored = w.late = 0;
  }
  m_.flush_seconds.Observe(
      std::chrono::duration<double>(Clock::now() - started).count());
  m_.state_bytes.Set(static_cast<double>(store_->SizeOnDisk()));
  return Status::Ok();
}

Status Aggregator::MaybeFlush(bool big) {
  if (!big && Clock::now() - last_flush_ < o_.flush_interval) {
    return Status::Ok();
  }

  // While the sink is behind, keep accumulating: the open batches absorb
  // the events (and merge their deltas), so nothing waits until a batch
  // reaches its size limit.
  if (o_.max_unapplied > 0) {
    auto behind = sink_->MaxUnapplied(rollups_produced_, cluster_id_);
    bool room = behind.ok() && *behind <= o_.max_unapplied;
    if (!room && !big) {
      last_flush_ = Clock::now();
      m_.backpressure.Set(1);
      return Status::Ok();
    }
    if (!room) {
      PULSE_RETURN_IF_ERROR(WaitForSink());
    }
    m_.backpressure.Set(0);
  }
  return Flush();
}

Status Aggregator::WaitForSink() {
  if (o_.max_unapplied <= 0) {
    return Status::Ok();
  }

  // Keep the rollups topic within what the broker retains: wait while the
  // sink is more than max_unapplied messages behind in any partition.
  bool waited = false;
  while (!StopSignal::Get().requested()) {
    auto behind = sink_->MaxUnapplied(rollups_produced_, cluster_id_);
    if (behind.ok() && *behind <= o_.max_unapplied) {
      break;
    }
    waited = true;
    m_.backpressure.Set(1);
    StopSignal::Get().WaitFor(std::chrono::milliseconds(50));
  }
  if (waited) {
    m_.backpressure.Set(0);
  }
  return Status::Ok();
}

void Aggregator::UpdateLag() {
  auto now = Clock::now();
  if (now - last_lag_ < std::chrono::seconds(5)) {
    return;
  }
  last_lag_ = now;
  for (const auto& [p, w] : work_) {
    int64_t low = 0, high = 0;
    if (rd_kafka_get_watermark_offsets(consumer_.get(),
                                       o_.topics.activity.c_str(), p, &low,
                                       &high) == RD_KAFKA_RESP_ERR_NO_ERROR &&
        w->to >= 0) {
      m_.Lag(p).Set(static_cast<double>(std::max<int64_t>(0, high - w->to)));
    }
  }
  if (auto v = proxy_.Evaluate(now)) {
    m_.proxy_suspected.Set(proxy_.suspected() ? 1 : 0);
    if (proxy_.suspected()) {
      log_.Warn("proxy_suspected",
                {{"ip", v->ip},
                 {"share_percent", v->share_percent},
                 {"events", v->events},
                 {"fix",
                  "configure Directus to trust the proxy "
                  "(IP_TRUST_PROXY) so rows carry client addresses"}});
    }
  }
}

void Aggregator::LogProgress() {
  auto now = Clock::now();
  if (now - last_progress_ < o_.progress_interval) {
    return;
  }
  double secs = std::chrono::duration<double>(now - last_progress_).count();
  last_progress_ = now;
  auto applied = static_cast<int64_t>(m_.applied.Value());
  int64_t rate =
      secs > 0 && secs < 1e6
          ? static_cast<int64_t>((applied - applied_at_progress_) / secs)
          : 0;
  applied_at_progress_ = applied;
  log_.Info("progress",
            {{"applied", applied},
             {"events_per_s", rate},
             {"duplicates", static_cast<int64_t>(m_.duplicate.Value())},
             {"invalid", static_cast<int64_t>(m_.invalid.Value())},
             {"partitions", static_cast<int64_t>(work_.size())}});
}

Status RunAggregator(const AggregatorOptions& options) {
  Aggregator a(options);
  PULSE_RETURN_IF_ERROR(a.Init());
  return a.Run();
}

}  // namespace pulse::aggregator
