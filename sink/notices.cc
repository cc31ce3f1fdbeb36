#include "sink/notices.h"

#include <libpq-fe.h>

#include <algorithm>
#include <string_view>

namespace pulse::sink {

NoticeCollector::NoticeCollector(PgConn& conn) : conn_(conn) {
  previous_ = PQsetNoticeReceiver(conn_.raw(), &NoticeCollector::Receive, this);
}

NoticeCollector::~NoticeCollector() {
  // libpq does not hand back the old receiver's argument; its default
  // receiver (the only one Pulse uses) ignores it.
  if (conn_.raw() != nullptr && previous_ != nullptr) {
    PQsetNoticeReceiver(conn_.raw(), previous_, nullptr);
  }
}

std::vector<std::string> NoticeCollector::Take() {
  std::vector<std::string> out;
  out.swap(messages_);
  return out;
}

void NoticeCollector::Receive(void* self, const pg_result* r) {
  auto* collector = static_cast<NoticeCollector*>(self);

  // Only what a user should read: NOTICE and WARNING, not DEBUG or INFO.
  const char* severity = PQresultErrorField(r, PG_DIAG_SEVERITY_NONLOCALIZED);
  std::string_view level = severity ? severity : "";
  if (level != "NOTICE" && level != "WARNING") {
    return;
  }
  const char* primary = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
  if (primary == nullptr) {
    return;
  }
  std::vector<std::string>& m = collector->messages_;
  if (std::find(m.begin(), m.end(), primary) == m.end()) {
    m.emplace_back(primary);
  }
}

}  // namespace pulse::sink
