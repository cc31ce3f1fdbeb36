#include "ingest/horizon.h"

#include "common/log.h"

namespace pulse::ingest {

HorizonReader::HorizonReader(std::string url, std::string topic,
                             std::string cluster_id)
    : url_(std::move(url)),
      topic_(std::move(topic)),
      cluster_id_(std::move(cluster_id)) {}

const AckTracker::Horizon& HorizonReader::Get(
    std::chrono::milliseconds max_age) {
  auto now = std::chrono::steady_clock::now();
  if (now - fetched_ < max_age) {
    return horizon_;
  }
  fetched_ = now;
  Status st = Refresh();
  if (!st.ok()) {
    conn_ = PgConn();  // reconnect next time
    if (now - warned_ > std::chrono::seconds(30)) {
      warned_ = now;
      Logger("ingest").Warn("horizon_unavailable", {{"error", st.message()}});
    }
  }
  return horizon_;
}

Status HorizonReader::Refresh() {
  if (!conn_.connected()) {
    PULSE_ASSIGN_OR_RETURN(conn_, PgConn::Connect(url_, "pulse-ingest"));
  }
  auto r = conn_.Exec(
      "SELECT partition, next_offset FROM pulse.partition_state "
      "WHERE topic = $1 AND cluster_id = $2 AND next_offset >= 0",
      {topic_, cluster_id_});
  if (!r.ok()) {
    // Before the sink's first start the table does not exist: nothing is
    // durable yet, which is what an empty horizon says.
    if (r.status().code() == Status::Code::kFailedPrecondition) {
      return Status::Ok();
    }
    return r.status();
  }
  for (int i = 0; i < r->rows(); ++i) {
    horizon_[static_cast<int32_t>(r->GetInt(i, 0))] = r->GetInt(i, 1);
  }
  return Status::Ok();
}

}  // namespace pulse::ingest
