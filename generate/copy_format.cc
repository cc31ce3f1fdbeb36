#include "generate/copy_format.h"

#include "common/time_util.h"

namespace pulse::generate {

void AppendCopyLine(const ActivityRow& row, bool with_comment,
                    std::string& out) {
  char ts[24];
  FormatRfc3339Ms(row.timestamp, ts);

  AppendCopyText(row.action, out);
  out.push_back('\t');
  AppendCopyField(row.user, out);
  out.push_back('\t');
  out.append(ts, sizeof ts);
  out.push_back('\t');
  AppendCopyField(row.ip, out);
  out.push_back('\t');
  AppendCopyField(row.user_agent, out);
  out.push_back('\t');
  AppendCopyText(row.collection, out);
  out.push_back('\t');
  AppendCopyText(row.item, out);
  out.push_back('\t');
  AppendCopyField(row.origin, out);
  if (with_comment) {
    out.push_back('\t');
    AppendCopyField(row.comment, out);
  }
  out.push_back('\n');
}

}  // namespace pulse::generate
