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

// "a" 0 topic 0 partition 0 ip 0: every key of one IP's windows.
std::string IpPrefix(const std::string& topic, int32_t partition,
                     std::string_view ip) {
  std::string k = PartitionPrefix('a', topic, partition);
  k.push_back('\0');
  k += ip;
  k.push_back('\0');
  return k;
}

std::string MinuteKey(const std::string& topic, int32_t partition,
                      std::string_view ip, int64_t minute) {
  std::string k = IpPrefix(topic, partition, ip) + 'm';
  for (int i = 7; i >= 0; --i) {
    k.push_back(static_cast<char>(static_cast<uint64_t>(minute) >> (8 * i)));
  }
  return k;
}

void PutVarint(std::string& out, uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>(v | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}

bool GetVarint(std::string_view& in, uint64_t& v) {
  v = 0;
  for (int shift = 0; shift < 64 && !in.empty(); shift += 7) {
    auto b = static_cast<uint8_t>(in[0]);
    in.remove_prefix(1);
    v |= static_cast<uint64_t>(b & 0x7F) << shift;
    if ((b & 0x80) == 0) {
      return true;
    }
  }
  return false;
}

uint64_t ZigZag(int64_t v) {
  return (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63);
}
int64_t UnZigZag(uint64_t u) {
  return static_cast<int64_t>(u >> 1) ^ -static_cast<int64_t>(u & 1);
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
  // Writes far outnumber reads, which come only when partitions are
  // restored (after PrepareForReads): an unsorted memtable takes a write
  // as an append, where a skip list spent a third of each flush finding
  // places for the alert minutes.
  options.memtable_factory.reset(new rocksdb::VectorRepFactory());
  options.allow_concurrent_memtable_write = false;

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

Status StateStore::PrepareForReads() {
  // An unsorted memtable sorts a copy of itself for every read: write it
  // out once, sorted, and read from the file.
  return FromRocks(db_->Flush(rocksdb::FlushOptions()), "flush memtable");
}

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

Status StateStore::LoadWindows(const std::string& topic, int32_t partition,
                               const WindowVisitor& visit) {
  std::string prefix = PartitionPrefix('a', topic, partition) + '\0';
  std::unique_ptr<rocksdb::Iterator> it(
      db_->NewIterator(rocksdb::ReadOptions()));
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix);
       it->Next()) {
    // <ip> 0 then "m" <minute> or "c".
    std::string_view key(it->key().data(), it->key().size());
    key.remove_prefix(prefix.size());
    size_t nul = key.find('\0');
    if (nul == std::string_view::npos || nul + 1 >= key.size()) {
      return Status::DataLoss("alert window key is damaged");
    }
    std::string_view ip = key.substr(0, nul);
    char kind = key[nul + 1];
    std::string_view value(it->value().data(), it->value().size());

    uint64_t a = 0, b = 0, c = 0, d = 0;
    if (kind == 'c' && GetVarint(value, a) && GetVarint(value, b)) {
      visit.cooldowns(ip, UnZigZag(a), UnZigZag(b));
    } else if (kind == 'm' && key.size() == nul + 10 && GetVarint(value, a) &&
               GetVarint(value, b) && GetVarint(value, c) &&
               GetVarint(value, d)) {
      uint64_t minute = 0;
      for (size_t i = nul + 2; i < key.size(); ++i) {
        minute = minute << 8 | static_cast<uint8_t>(key[i]);
      }
      auto m = static_cast<int64_t>(minute);
      EventTimeMs start = m * kMsPerMinute;
      visit.minute(ip, {m, static_cast<int64_t>(a), static_cast<int64_t>(b),
                        start + static_cast<int64_t>(c),
                        start + static_cast<int64_t>(d)});
    } else {
      return Status::DataLoss("alert window entry is damaged");
    }
  }
  return FromRocks(it->status(), "scan windows");
}

Status StateStore::Commit(const std::string& topic, int32_t partition,
                          const PartitionRecord& record,
                          const std::vector<IpChange>& changes, bool replace) {
  rocksdb::WriteBatch batch;
  std::string lo = PartitionPrefix('a', topic, partition);
  if (replace) {
    batch.DeleteRange(lo, lo + '\x01');  // past every "<prefix>\0..."
  }

  // Per IP: drop it whole, or write the minutes and cooldowns that moved.
  for (const IpChange& c : changes) {
    std::string ip_prefix = IpPrefix(topic, partition, c.ip);
    if (c.expired) {
      std::string end = ip_prefix;
      end.back() = '\x01';
      batch.DeleteRange(ip_prefix, end);
      continue;
    }
    for (int64_t minute : c.dropped) {
      batch.Delete(MinuteKey(topic, partition, c.ip, minute));
    }
    for (const MinuteCounts& m : c.minutes) {
      std::string v;
      EventTimeMs start = m.minute * kMsPerMinute;
      PutVarint(v, static_cast<uint64_t>(m.count));
      PutVarint(v, static_cast<uint64_t>(m.logins));
      PutVarint(v, static_cast<uint64_t>(m.first - start));
      PutVarint(v, static_cast<uint64_t>(m.last - start));
      batch.Put(MinuteKey(topic, partition, c.ip, m.minute), v);
    }
    if (c.cooldowns) {
      std::string v;
      PutVarint(v, ZigZag(c.cooldowns->first));
      PutVarint(v, ZigZag(c.cooldowns->second));
      batch.Put(ip_prefix + 'c', v);
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
