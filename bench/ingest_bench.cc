// Ingest hot path: pgoutput Insert decode plus activity JSON encode, one
// core. Target: >= 1M rows/s.

#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include "common/activity_json.h"
#include "ingest/pgoutput.h"
#include "ingest/wire.h"

namespace pulse::ingest {
namespace {

void PutString(std::string& out, std::string_view s) {
  out.append(s);
  out.push_back('\0');
}

// A Relation message for directus_activity in the Directus 11+ shape.
std::string RelationMessage() {
  std::string m = "R";
  PutBigEndian<uint32_t>(m, 16400);
  PutString(m, "public");
  PutString(m, "directus_activity");
  m.push_back('d');
  const char* cols[] = {"id",         "action",     "user", "timestamp", "ip",
                        "user_agent", "collection", "item", "origin"};
  PutBigEndian<uint16_t>(m, 9);
  for (const char* c : cols) {
    m.push_back(0);
    PutString(m, c);
    PutBigEndian<uint32_t>(m, 25);
    PutBigEndian<int32_t>(m, -1);
  }
  return m;
}

std::string InsertMessage(int i) {
  std::vector<std::string> values = {
      std::to_string(1000000 + i),
      "update",
      "6f1c2d3e-4b5a-4c6d-8e7f-9a0b1c2d3e4f",
      "2026-12-03 15:54:12.123+00",
      "203.0.113." + std::to_string(i % 250),
      "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 "
      "(KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36",
      "articles",
      std::to_string(i % 5000),
      "https://cms.example.com"};
  std::string m = "I";
  PutBigEndian<uint32_t>(m, 16400);
  m.push_back('N');
  PutBigEndian<uint16_t>(m, 9);
  for (const std::string& v : values) {
    m.push_back('t');
    PutBigEndian<uint32_t>(m, static_cast<uint32_t>(v.size()));
    m.append(v);
  }
  return m;
}

// Encodes each row as the ingest does; keeps the output alive.
class EncodingHandler : public PgOutputDecoder::Handler {
 public:
  Status OnBegin(const BeginMessage&) override { return Status::Ok(); }
  Status OnCommit(const CommitMessage&) override { return Status::Ok(); }
  Status OnInsert(const ActivityRow& row) override {
    value.clear();
    AppendActivityJson(row, pos, value);
    key = ActivityKey(row, scratch);
    return Status::Ok();
  }
  SourcePosition pos{
      .lsn = Lsn(0x16B6C50), .commit_lsn = Lsn(0x16B6D00), .xid = 731};
  std::string value;
  std::string scratch;
  std::string_view key;
};

void BM_DecodeAndEncode(benchmark::State& state) {
  PgOutputDecoder decoder("public", "directus_activity");
  EncodingHandler handler;
  decoder.Decode(RelationMessage(), handler).IgnoreError();
  std::vector<std::string> inserts;
  for (int i = 0; i < 1024; ++i) {
    inserts.push_back(InsertMessage(i));
  }
  size_t i = 0;
  for (auto _ : state) {
    decoder.Decode(inserts[i++ & 1023], handler).IgnoreError();
    benchmark::DoNotOptimize(handler.value.data());
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() *
                          static_cast<int64_t>(handler.value.size()));
}
BENCHMARK(BM_DecodeAndEncode);

void BM_DecodeOnly(benchmark::State& state) {
  struct Null : PgOutputDecoder::Handler {
    Status OnBegin(const BeginMessage&) override { return Status::Ok(); }
    Status OnCommit(const CommitMessage&) override { return Status::Ok(); }
    Status OnInsert(const ActivityRow& row) override {
      benchmark::DoNotOptimize(row.id);
      return Status::Ok();
    }
  } handler;
  PgOutputDecoder decoder("public", "directus_activity");
  decoder.Decode(RelationMessage(), handler).IgnoreError();
  std::string insert = InsertMessage(7);
  for (auto _ : state) {
    decoder.Decode(insert, handler).IgnoreError();
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_DecodeOnly);

}  // namespace
}  // namespace pulse::ingest

BENCHMARK_MAIN();
