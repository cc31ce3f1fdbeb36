// NoticeCollector: keeps the NOTICE and WARNING messages PostgreSQL sends on
// one connection while it lives, for callers that must pass them on (the
// SQL functions say so when an answer is coarser than asked).
//
// It installs a libpq notice receiver on construction and restores the
// previous one on destruction, so it must not outlive the connection and
// is neither copied nor moved. Same thread as the connection.

#ifndef PULSE_SINK_NOTICES_H_
#define PULSE_SINK_NOTICES_H_

#include <string>
#include <vector>

#include "common/pg.h"

namespace pulse::sink {

class NoticeCollector {
 public:
  explicit NoticeCollector(PgConn& conn);
  ~NoticeCollector();
  NoticeCollector(const NoticeCollector&) = delete;
  NoticeCollector& operator=(const NoticeCollector&) = delete;

  // The primary texts received since the last call, in arrival order, each
  // text once (a function called per segment repeats itself).
  std::vector<std::string> Take();

 private:
  static void Receive(void* self, const pg_result* r);

  PgConn& conn_;
  void (*previous_)(void*, const pg_result*) = nullptr;
  std::vector<std::string> messages_;
};

}  // namespace pulse::sink

#endif  // PULSE_SINK_NOTICES_H_
