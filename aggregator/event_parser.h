// EventParser: one message of the activity topic into the fields the
// rollups need, or the reason it cannot be used.
//
// Two formats are accepted:
//   - Pulse's own (schemas/activity.schema.json), written by `pulse ingest`;
//   - Debezium's PostgreSQL change event for the same table, with the
//     schema envelope ({"schema":..,"payload":{..}}) or without it
//     ({"before":..,"after":..,"source":..,"op":"c"}). Creates and snapshot
//     reads count; updates, deletes, truncates and tombstones are ignored,
//     as Directus never updates activity rows.
//
// Required: a parsable timestamp, a non-null action and collection. Other
// fields may be null. A message Pulse cannot use is kInvalid with a short
// reason code (for the dead-letter header and the metric label) and a
// detail naming the field.
//
// Not thread-safe: one parser per consuming thread. Views in a ParsedEvent
// point into the parser and are valid until the next Parse().

#ifndef PULSE_AGGREGATOR_EVENT_PARSER_H_
#define PULSE_AGGREGATOR_EVENT_PARSER_H_

#include <simdjson.h>

#include <compare>
#include <optional>
#include <string>
#include <string_view>

#include "common/lsn.h"
#include "common/time_util.h"

namespace pulse::aggregator {

// Where an event came from in the source; see common/activity.h. Ordered:
// within a partition, replays repeat positions at or below the highest.
struct SourcePos {
  Lsn commit_lsn;
  Lsn lsn;
  int64_t id = 0;
  friend auto operator<=>(const SourcePos&, const SourcePos&) = default;
};

struct ParsedEvent {
  std::optional<int64_t> id;
  std::string_view action;
  std::string_view collection;
  std::optional<std::string_view> user;
  std::optional<std::string_view> ip;
  EventTimeMs time = 0;
  std::optional<SourcePos> position;  // absent: cannot detect replays
};

enum class ParseOutcome {
  kEvent,    // an inserted row: count it
  kIgnored,  // a valid message that changes nothing (Debezium u/d/t)
  kInvalid,  // cannot be used: dead-letter it
};

struct ParseResult {
  ParseOutcome outcome = ParseOutcome::kInvalid;
  std::string_view reason;  // kInvalid: not_json, wrong_type, ...
  std::string detail;       // kInvalid: which field, what was wrong
};

class EventParser {
 public:
  explicit EventParser(size_t max_bytes = 1'000'000);

  ParseResult Parse(std::string_view message, ParsedEvent& out);

 private:
  ParseResult ParseRow(simdjson::ondemand::object row, ParsedEvent& out,
                       bool debezium);
  ParseResult ParseDebezium(simdjson::ondemand::object envelope,
                            ParsedEvent& out);

  size_t max_bytes_;
  simdjson::ondemand::parser parser_;
  std::string padded_;  // the message plus simdjson's padding
  // Copies of strings that must outlive the document (Debezium reorders).
  std::string scratch_;
};

}  // namespace pulse::aggregator

#endif  // PULSE_AGGREGATOR_EVENT_PARSER_H_
