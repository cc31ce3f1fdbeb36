#include "aggregator/state_store.h"

#include <fmt/format.h>
#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>

#include <cstdio>

namespace pulse::aggregator {

namespace {

// RocksDB's Status to ours, in one place.
Status FromRocks(const rocksdb::Status& s, std::string_view context) {
  if (s.ok()) {
    return Status::Ok();
  }
  std::string msg = fmt::format("rocksdb {}: {}", context, s.ToString());
  if (s.IsCorruption()) {
    return Status::DataLoss(msg +
                            "; move state_dir/aggregator away to "
                            "rebuild it from the sink's tables");
  }
  if (s.IsIOError()) {
    return Status::Unavailable(msg);
  }
  return Status::Internal(msg);
}

void PutU32(std::string& out, uint32_t v) {
  for (int i = 3; i >= 0; --i) {
    out.push_back(static_cast<char>(v >> (8 * i)));
  }
}

std::string PartitionPrefix(char kind, const std::string& topic,
                            int32_t partition) {
  std::string k;
  k.push_back(kind);
  k.push_back('\0');
  k += topic;
  k.push_back('\0');
  PutU32(k, static_cast<uint32_t>(partition));
  return k;
}

std::string WindowKey(const std::string& topic, int32_t partition,
                      std::string_view ip) {
  std::string k = PartitionPrefix('a', topic, partition);
  k.push_back('\0');
  k += ip;
  return k;
}

}  // namespace

std::string EncodePartitionRecord(const PartitionRecord& r) {
  return fmt::format("1 {} {} {} {} {} {} {} {}", r.next_offset, r.generation,
                     r.position.commit_lsn.value(), r.position.lsn.value(),
                     r.position.id, r.newest_event_time, r.events_applied,
                     r.cluster_id.empty() ? "-" : r.cluster_id);
}

std::optional<PartitionRecord> DecodePartitionRecord(std::string_view bytes) {
  PartitionRecord r;
  uint64_t commit = 0, lsn = 0;
  int version = 0;
  char cluster[256] = {0};
  std::string text(bytes);
  int n = std::sscanf(text.c_str(), "%d %ld %ld %lu %lu %ld %ld %ld %255s",
                      &version, &r.next_offset, &r.generation, &commit, &lsn,
                      &r.position.id, &r.newest_event_time, &r.events_applied,
                      cluster);
  if (n != 9 || version != 1) {
    return std::nullopt;
  }
  r.position.commit_lsn = Lsn(commit);
  r.position.lsn = Lsn(lsn);
  r.cluster_id = std::string_view(cluster) == "-" ? "" : cluster;
  return r;
}

Result<std::unique_ptr<StateStore>> StateStore::Open(const std::string& path) {
  rocksdb::Options options;
  options.create_if_missing = true;
  // Small state: keep memory modest and files few.
  options.write_buffer_size = 16 << 20;
  options.max_write_buffer_number = 2;
  options.max_open_files = 256;
  options.keep_log_file_num = 2;

  rocksdb::DB* db = nullptr;
  rocksdb::Status s = rocksdb::DB::Open(options, path, &db);
  if (!s.ok()) {
    return FromRocks(s, "open " + path).WithContext("state_dir");
  }
  std::unique_ptr<StateStore> store(new StateStore());
  store->db_.reset(db);
  return store;
}

StateStore::~StateStore() = default;

Result<std::optional<PartitionRecord>> StateStore::Load(
    const std::string& topic, int32_t partition) {
  std::string value;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(),
                               PartitionPrefix('p', topic, partition), &value);
  if (s.IsNotFound()) {
    return std::optional<PartitionRecord>();
  }
  PULSE_RETURN_IF_ERROR(FromRocks(s, "read partition record"));
  auto r = DecodePartitionRecord(value);
  if (!r) {
    return Status::DataLoss("partition record is damaged");
  }
  return std::optional<PartitionRecord>(*r);
}

Status StateStore::ForEachWindow(
    const std::string& topic, int32_t partition,
    const std::function<Status(std::string_view, std::string_view)>& fn) {
  std::string prefix = PartitionPrefix('a', topic, partition) + '\0';
  std::unique_ptr<rocksdb::Iterator> it(
      db_->NewIterator(rocksdb::ReadOptions()));
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix);
       it->Next()) {
    std::string_view key(it->key().data(), it->key().size());
    std::string_view value(it->value().data(), it->value().size());
    PULSE_RETURN_IF_ERROR(fn(key.substr(prefix.size()), value));
  }
  return FromRocks(it->status(), "scan windows");
}

Status StateStore::Commit(const std::string& topic, int32_t partition,
                          const PartitionRecord& record,
                          const std::vector<WindowChange>& windows,
                          bool replace) {
  rocksdb::WriteBatch batch;
  if (replace) {
    std::string lo = PartitionPrefix('a', topic, partition);
    std::string hi = lo;
    hi.push_back('\x01');  // past every "<prefix>\0<ip>"
    batch.DeleteRange(lo, hi);
  }
  for (const auto& [ip, state] : windows) {
    if (state) {
      batch.Put(WindowKey(topic, partition, ip), *state);
    } else {
      batch.Delete(WindowKey(topic, partition, ip));
    }
  }
  batch.Put(PartitionPrefix('p', topic, partition),
            EncodePartitionRecord(record));

  // What a crash replays: nothing of this batch if the write is lost, all
  // of it otherwise; the sink's record decides where we resume anyway.
  return FromRocks(db_->Write(rocksdb::WriteOptions(), &batch), "commit");
}

uint64_t StateStore::SizeOnDisk() const {
  uint64_t sst = 0, memtables = 0;
  db_->GetIntProperty("rocksdb.total-sst-files-size", &sst);
  db_->GetIntProperty("rocksdb.cur-size-all-mem-tables", &memtables);
  return sst + memtables;
}

}  // namespace pulse::aggregator
