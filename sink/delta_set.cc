#include "sink/delta_set.h"

#include <fmt/format.h>

namespace pulse::sink {

std::string_view KindCode(Kind k) {
  switch (k) {
    case Kind::kCollection:
      return "c";
    case Kind::kUser:
      return "u";
    case Kind::kIp:
      return "i";
  }
  return "c";
}

DeltaSet::DeltaSet(const std::array<EventTimeMs, 3>& oldest_kept)
    : oldest_kept_(oldest_kept) {}

Status DeltaSet::Add(const RollupMessage& m) {
  for (const ActivityDelta& d : m.activity) {
    if (Kept(d.grain, d.bucket)) {
      activity_[{d.grain, d.bucket, d.collection, d.action}] += d.count;
    }
  }
  PULSE_RETURN_IF_ERROR(AddSketches(Kind::kCollection, m.collections));
  PULSE_RETURN_IF_ERROR(AddSketches(Kind::kUser, m.users));
  return AddSketches(Kind::kIp, m.ips);
}

Status DeltaSet::AddSketches(Kind kind,
                             const std::vector<SketchDelta>& deltas) {
  for (const SketchDelta& d : deltas) {
    if (!Kept(d.grain, d.bucket)) {
      continue;
    }
    PULSE_ASSIGN_OR_RETURN(Hll sketch, Hll::Deserialize(d.sketch));
    if (sketch.params() != kUserSketchParams) {
      return Status::InvalidArgument(fmt::format(
          "rollup sketch has params {}, expected {}: aggregator and sink "
          "versions differ",
          sketch.params().ToString(), kUserSketchParams.ToString()));
    }
    auto [it, fresh] = sketches_.try_emplace({kind, d.grain, d.bucket, d.name});
    SketchRow& row = it->second;
    row.count += d.count;
    row.logins += d.logins;
    if (fresh) {
      row.sketch = std::move(sketch);
    } else {
      PULSE_RETURN_IF_ERROR(row.sketch.Merge(sketch));
    }
  }
  return Status::Ok();
}

}  // namespace pulse::sink
