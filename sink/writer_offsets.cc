// The sink's offsets on the rollups topic, and retention of old buckets.

#include <fmt/format.h>

#include "sink/writer.h"

namespace pulse::sink {

Status Writer::WriteOffsets(const std::vector<Incoming>& batch,
                            const std::string& rollups_topic,
                            const std::string& cluster) {
  // The sink's own position, in the same transaction as what it applied:
  // a restart resumes exactly after the last message applied or skipped.
  std::map<int32_t, int64_t> next;
  for (const Incoming& in : batch) {
    next[in.rollups_partition] =
        std::max(next[in.rollups_partition], in.offset + 1);
  }
  for (const auto& [partition, offset] : next) {
    PULSE_RETURN_IF_ERROR(
        conn_
            .Exec("INSERT INTO pulse.sink_offsets (id, topic, partition, "
                  "cluster_id, next_offset) VALUES ($1 || ':' || $2, $1, "
                  "$2::int, $3, $4) ON CONFLICT (id) DO UPDATE SET "
                  "cluster_id = excluded.cluster_id, next_offset = "
                  "excluded.next_offset, updated_at = now()",
                  {rollups_topic, std::to_string(partition), cluster,
                   std::to_string(offset)})
            .status());
  }
  return Status::Ok();
}

Result<std::map<int32_t, int64_t>> Writer::LoadOffsets(
    const std::string& topic, const std::string& cluster) {
  PULSE_ASSIGN_OR_RETURN(PgResult r,
                         conn_.Exec("SELECT partition, next_offset FROM "
                                    "pulse.sink_offsets WHERE topic = $1 AND "
                                    "cluster_id = $2",
                                    {topic, cluster}));
  std::map<int32_t, int64_t> out;
  for (int i = 0; i < r.rows(); ++i) {
    out[static_cast<int32_t>(r.GetInt(i, 0))] = r.GetInt(i, 1);
  }
  return out;
}

Result<int64_t> Writer::EnforceRetention() {
  // Bucket ranges of the unique indexes make these range deletes.
  int64_t deleted = 0;
  const std::pair<const char*, std::chrono::milliseconds> grains[] = {
      {"minute", retention_.minute},
      {"hour", retention_.hour},
      {"day", retention_.day}};
  for (const auto& [grain, keep] : grains) {
    if (keep.count() <= 0) {
      continue;
    }
    for (const char* table : {"activity", "collection", "user", "ip"}) {
      PULSE_ASSIGN_OR_RETURN(
          PgResult r,
          conn_.Exec(fmt::format("DELETE FROM pulse.{}_{} WHERE bucket < "
                                 "now() - $1::bigint * interval '1 ms'",
                                 table, grain),
                     {std::to_string(keep.count())}));
      deleted += r.affected();
    }
  }
  return deleted;
}

}  // namespace pulse::sink
