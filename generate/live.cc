// RunLive: rows stamped "now", paced by token buckets, one INSERT per
// transaction of 1-5 rows, on one connection that is rebuilt with backoff
// whenever PostgreSQL goes away.

#include <algorithm>
#include <thread>

#include "common/log.h"
#include "common/metrics.h"
#include "generate/generate.h"
#include "generate/token_bucket.h"

namespace pulse::generate {

namespace {

using Clock = TokenBucket::Clock;

constexpr int kMaxTransactionRows = 5;
constexpr auto kFirstBackoff = std::chrono::milliseconds(100);
constexpr auto kMaxBackoff = std::chrono::milliseconds(5000);
constexpr char kProbe[] = "generate";
constexpr uint64_t kSizeStream = 0x73697a6573ULL;

// Transaction sizes of Directus batch requests: mostly single items.
constexpr double kTransactionSizeShares[kMaxTransactionRows] = {55, 20, 12, 8,
                                                                5};

// Room for a tenth of a second of rows (and at least one full
// transaction), so late wake-ups are caught up without bursts.
double CapacityFor(double rate) {
  return std::max<double>(kMaxTransactionRows, rate / 10);
}

// Errors a fresh connection may cure; the rest need a person.
bool Retriable(const Status& s) {
  switch (s.code()) {
    case Status::Code::kUnavailable:
    case Status::Code::kInternal:
    case Status::Code::kAborted:
    case Status::Code::kCancelled:
      return true;
    default:
      return false;
  }
}

// One paced source of rows: the site, or the attacker.
struct Stream {
  TokenBucket bucket;
  Clock::time_point begin;  // no rows before
  int64_t remaining;        // rows left; -1 without a limit
  int next_rows = 1;        // size of the next transaction
  bool attacker = false;

  bool active() const { return remaining != 0; }
  Clock::time_point ReadyAt(Clock::time_point now) {
    return std::max(begin, bucket.ReadyAt(next_rows, now));
  }
};

class LiveWriter {
 public:
  explicit LiveWriter(const LiveOptions& o)
      : o_(o),
        stop_(o.target.stop ? *o.target.stop : StopSignal::Get()),
        log_("generate"),
        generator_(o.target.generator),
        sizes_(std::vector<double>(std::begin(kTransactionSizeShares),
                                   std::end(kTransactionSizeShares))),
        size_rng_(Mix64(o.target.generator.seed, kSizeStream)),
        rows_(kMaxTransactionRows),
        rows_metric_(CounterMetric("pulse_generate_rows_total",
                                   "rows inserted by pulse generate live")),
        transactions_metric_(
            CounterMetric("pulse_generate_transactions_total",
                          "transactions committed by pulse generate live")),
        reconnects_metric_(
            CounterMetric("pulse_generate_reconnects_total",
                          "connections rebuilt after PostgreSQL went away")) {}

  Result<GenerateStats> Run();

 private:
  std::vector<Stream> MakeStreams(Clock::time_point now);
  int NextTransactionRows(const Stream& stream);
  Status EnsureConnected();
  Status Prepare();
  Status WriteTransaction(Stream& stream);
  void SleepUntil(Clock::time_point t);
  void MaybeLogProgress(Clock::time_point now);
  GenerateStats Finish(std::string_view reason);

  const LiveOptions& o_;
  StopSignal& stop_;
  Logger log_;
  ActivityGenerator generator_;
  WeightedSampler sizes_;
  Rng size_rng_;

  PgConn conn_;
  bool prepared_ = false;
  bool with_comment_ = false;
  std::vector<std::string> insert_sql_;  // by rows - 1
  std::vector<ActivityRow> rows_;
  PgParams params_;
  std::chrono::milliseconds backoff_ = kFirstBackoff;

  Clock::time_point start_ = Clock::now();
  Clock::time_point last_progress_ = start_;
  int64_t rows_at_last_progress_ = 0;
  GenerateStats stats_;
  prometheus::Counter& rows_metric_;
  prometheus::Counter& transactions_metric_;
  prometheus::Counter& reconnects_metric_;
};

Result<GenerateStats> LiveWriter::Run() {
  Health::Get().Register(kProbe);

  // The table must exist before pacing starts; a stop while waiting for
  // PostgreSQL is a clean end.
  Status connected = EnsureConnected();
  if (connected.code() == Status::Code::kCancelled) {
    return Finish(stop_.reason());
  }
  PULSE_RETURN_IF_ERROR(connected);

  std::vector<Stream> streams = MakeStreams(Clock::now());
  auto deadline =
      o_.duration ? start_ + *o_.duration : Clock::time_point::max();

  while (!stop_.requested()) {
    Clock::time_point now = Clock::now();
    if (now >= deadline) {
      return Finish("duration");
    }

    // Serve whichever stream is due first; sleep if none is due yet.
    Stream* due = nullptr;
    Clock::time_point due_at = Clock::time_point::max();
    for (Stream& s : streams) {
      if (s.active() && s.ReadyAt(now) < due_at) {
        due = &s;
        due_at = s.ReadyAt(now);
      }
    }
    if (due_at > now) {
      SleepUntil(std::min(due_at, deadline));
      continue;
    }
    due->bucket.TryTake(due->next_rows, now);

    // Write; a lost server costs this transaction and a reconnect.
    Status written = WriteTransaction(*due);
    if (!written.ok() && !Retriable(written)) {
      return written;
    }
    if (!written.ok()) {
      log_.Warn("generate_insert_failed", {{"error", written.message()}});
      conn_ = PgConn();
      Status again = EnsureConnected();
      if (!again.ok() && again.code() != Status::Code::kCancelled) {
        return again;
      }
    }

    due->next_rows = NextTransactionRows(*due);
    MaybeLogProgress(Clock::now());
  }
  return Finish(stop_.reason());
}

std::vector<Stream> LiveWriter::MakeStreams(Clock::time_point now) {
  // The site's stream, without end.
  std::vector<Stream> streams;
  streams.push_back({TokenBucket(o_.rate, CapacityFor(o_.rate), now), now, -1});

  // The attacker's: its own rate, or a burst's size over its window.
  if (o_.attacker_rate > 0 || o_.attacker_burst > 0) {
    double window_s = std::chrono::duration<double>(o_.attacker_window).count();
    double rate = o_.attacker_rate > 0
                      ? o_.attacker_rate
                      : static_cast<double>(o_.attacker_burst) / window_s;
    Clock::time_point begin = now + o_.attacker_after;
    streams.push_back({TokenBucket(rate, CapacityFor(rate), begin), begin,
                       o_.attacker_burst > 0 ? o_.attacker_burst : -1});
    streams.back().attacker = true;
  }

  for (Stream& s : streams) {
    s.next_rows = NextTransactionRows(s);
  }
  return streams;
}

int LiveWriter::NextTransactionRows(const Stream& stream) {
  // A burst's last transaction takes only what is left of it.
  int rows = 1 + static_cast<int>(sizes_.Sample(size_rng_));
  if (stream.remaining > 0) {
    rows = static_cast<int>(std::min<int64_t>(rows, stream.remaining));
  }
  return rows;
}

Status LiveWriter::WriteTransaction(Stream& stream) {
  // One statement is one transaction: all k rows commit, or none.
  int k = stream.next_rows;
  EventTimeMs now = NowMs();
  params_.clear();
  for (int i = 0; i < k; ++i) {
    ActivityRow& row = rows_[i];
    if (stream.attacker) {
      generator_.FillAttack(row);
    } else {
      generator_.Fill(row);
    }
    row.timestamp = now;
    AppendInsertParams(row, with_comment_, params_);
  }
  if (stream.remaining > 0) {
    stream.remaining -= k;
  }

  auto done = conn_.Exec(insert_sql_[k - 1], params_);
  if (!done.ok()) {
    stats_.failed_rows += k;
    return done.status();
  }
  stats_.rows += k;
  stats_.attacker_rows += stream.attacker ? k : 0;
  ++stats_.transactions;
  rows_metric_.Increment(k);
  transactions_metric_.Increment();
  return Status::Ok();
}

Status LiveWriter::EnsureConnected() {
  bool lost = prepared_;
  while (!conn_.connected()) {
    if (stop_.requested()) {
      return Status::Cancelled("stopped while connecting");
    }

    // Connect and set the session up; only retriable failures loop.
    Status failed;
    auto c = PgConn::Connect(o_.target.url, "pulse-generate");
    if (c.ok()) {
      conn_ = std::move(*c);
      failed = Prepare();
      if (failed.ok()) {
        break;
      }
      conn_ = PgConn();
    } else {
      failed = c.status();
    }
    if (!Retriable(failed)) {
      return failed;
    }

    // Back off, doubling, so a restarting server is not hammered.
    Health::Get().SetReady(kProbe, false);
    log_.Warn("generate_reconnect",
              {{"error", failed.message()}, {"backoff_ms", backoff_.count()}});
    stop_.WaitFor(backoff_);
    backoff_ = std::min(backoff_ * 2, kMaxBackoff);
  }

  backoff_ = kFirstBackoff;
  Health::Get().SetReady(kProbe, true);
  if (lost) {
    ++stats_.reconnects;
    reconnects_metric_.Increment();
    log_.Info("generate_reconnected", {{"reconnects", stats_.reconnects}});
  }
  return Status::Ok();
}

Status LiveWriter::Prepare() {
  // A synthetic workload does not need each commit flushed on its own;
  // without this one connection tops out near 3k transactions/s.
  PULSE_RETURN_IF_ERROR(conn_.Run("SET synchronous_commit = off"));
  if (prepared_) {
    return Status::Ok();
  }

  // First connection: the table, its shape, and one statement per size.
  PULSE_RETURN_IF_ERROR(
      CreateActivityTable(conn_, o_.target.table, o_.target.legacy_comment));
  PULSE_ASSIGN_OR_RETURN(with_comment_,
                         HasCommentColumn(conn_, o_.target.table));
  for (int k = 1; k <= kMaxTransactionRows; ++k) {
    insert_sql_.push_back(InsertSql(conn_, o_.target.table, with_comment_, k));
  }
  prepared_ = true;
  log_.Info("live_started", {{"table", o_.target.table},
                             {"rate", o_.rate},
                             {"attacker_rate", o_.attacker_rate},
                             {"attacker_burst", o_.attacker_burst},
                             {"seed", o_.target.generator.seed},
                             {"comment", with_comment_}});
  return Status::Ok();
}

void LiveWriter::SleepUntil(Clock::time_point t) {
  // Long waits wake on a stop request; short ones sleep precisely.
  auto left = t - Clock::now();
  if (left > std::chrono::milliseconds(2)) {
    stop_.WaitFor(std::chrono::duration_cast<std::chrono::milliseconds>(
        left - std::chrono::milliseconds(1)));
    return;
  }
  std::this_thread::sleep_until(t);
}

void LiveWriter::MaybeLogProgress(Clock::time_point now) {
  if (now - last_progress_ < o_.target.progress_interval) {
    return;
  }
  double seconds = std::chrono::duration<double>(now - last_progress_).count();
  double rate =
      static_cast<double>(stats_.rows - rows_at_last_progress_) / seconds;
  last_progress_ = now;
  rows_at_last_progress_ = stats_.rows;
  log_.Info("generate_progress", {{"rows", stats_.rows},
                                  {"rate", static_cast<int64_t>(rate)},
                                  {"attacker_rows", stats_.attacker_rows},
                                  {"failed_rows", stats_.failed_rows},
                                  {"reconnects", stats_.reconnects}});
}

GenerateStats LiveWriter::Finish(std::string_view reason) {
  stats_.seconds = std::chrono::duration<double>(Clock::now() - start_).count();
  Health::Get().SetReady(kProbe, false);
  log_.Info("live_stopped",
            {{"reason", reason},
             {"rows", stats_.rows},
             {"transactions", stats_.transactions},
             {"attacker_rows", stats_.attacker_rows},
             {"failed_rows", stats_.failed_rows},
             {"reconnects", stats_.reconnects},
             {"seconds", stats_.seconds},
             {"rate", static_cast<int64_t>(stats_.rows_per_second())}});
  return stats_;
}

}  // namespace

Result<GenerateStats> RunLive(const LiveOptions& o) {
  PULSE_RETURN_IF_ERROR(ValidateLiveOptions(o));
  LiveWriter writer(o);
  return writer.Run();
}

}  // namespace pulse::generate
