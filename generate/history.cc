// WriteHistory: a generator thread formats COPY text into large buffers;
// the calling thread streams them to PostgreSQL, one COPY per batch.

#include <fmt/format.h>

#include <thread>

#include "common/log.h"
#include "generate/chunk_pipe.h"
#include "generate/copy_format.h"
#include "generate/generate.h"

namespace pulse::generate {

namespace {

using SteadyClock = std::chrono::steady_clock;

// Big enough that per-send overhead vanishes, small enough to stay in
// cache-friendly territory; a few in flight keep both threads busy.
constexpr size_t kChunkBytes = 2 << 20;
constexpr size_t kPipeDepth = 3;

double SecondsSince(SteadyClock::time_point start) {
  return std::chrono::duration<double>(SteadyClock::now() - start).count();
}

// The generator thread: every row of the run, in id order, cut into
// chunks that never straddle a batch.
void ProduceChunks(const HistoryOptions& o, bool with_comment,
                   ChunkPipe& pipe) {
  HistoryRows rows(o.target.generator, TimelineFor(o));
  ActivityRow row;
  CopyChunk chunk;
  chunk.data = pipe.TakeBuffer();
  chunk.data.reserve(kChunkBytes + 64 * 1024);
  int64_t in_batch = 0;

  while (rows.Next(row)) {
    AppendCopyLine(row, with_comment, chunk.data);
    ++chunk.rows;
    chunk.attacker_rows += row.source == RowSource::kAttacker;
    ++in_batch;

    // Hand over a full chunk, closing the batch when it is complete.
    bool batch_full = in_batch == o.batch_rows;
    if (batch_full || chunk.data.size() >= kChunkBytes) {
      chunk.ends_batch = batch_full;
      in_batch = batch_full ? 0 : in_batch;
      if (!pipe.Push(std::move(chunk))) {
        return;
      }
      chunk = CopyChunk{};
      chunk.data = pipe.TakeBuffer();
      chunk.data.reserve(kChunkBytes + 64 * 1024);
    }
  }

  // The last batch ends with whatever is left, possibly nothing.
  if (in_batch > 0) {
    chunk.ends_batch = true;
    if (!pipe.Push(std::move(chunk))) {
      return;
    }
  }
  pipe.Close();
}

// The sending side: progress, batches, and the commit points.
class HistorySender {
 public:
  HistorySender(const HistoryOptions& o, PgConn& conn, std::string copy_sql)
      : o_(o),
        conn_(conn),
        copy_sql_(std::move(copy_sql)),
        stop_(o.target.stop ? *o.target.stop : StopSignal::Get()),
        log_("generate") {}

  Status Run(ChunkPipe& pipe) {
    CopyChunk chunk;
    while (pipe.Pop(chunk)) {
      // Stopping abandons the open COPY: the caller drops the connection,
      // which rolls the batch back.
      if (stop_.requested()) {
        return Status::Cancelled("history stopped: " + stop_.reason());
      }
      PULSE_RETURN_IF_ERROR(Send(chunk));
      pipe.Recycle(std::move(chunk.data));
      MaybeLogProgress();
    }
    return Status::Ok();
  }

  const GenerateStats& stats() const { return stats_; }
  void Finish() { stats_.seconds = SecondsSince(start_); }

 private:
  Status Send(const CopyChunk& chunk) {
    if (!in_copy_) {
      PULSE_RETURN_IF_ERROR(conn_.CopyInBegin(copy_sql_));
      in_copy_ = true;
    }
    if (!chunk.data.empty()) {
      PULSE_RETURN_IF_ERROR(conn_.CopyInPut(chunk.data));
    }
    sent_ += chunk.rows;
    batch_rows_ += chunk.rows;
    batch_attacker_rows_ += chunk.attacker_rows;

    // Commit point: a crash before it loses this batch only; rerunning
    // with the same seed appends every row again, committed ones included.
    if (chunk.ends_batch) {
      PULSE_RETURN_IF_ERROR(conn_.CopyInEnd());
      in_copy_ = false;
      stats_.rows += batch_rows_;
      stats_.attacker_rows += batch_attacker_rows_;
      ++stats_.transactions;
      batch_rows_ = 0;
      batch_attacker_rows_ = 0;
      log_.Debug("history_batch_committed", {{"rows", stats_.rows}});
    }
    return Status::Ok();
  }

  void MaybeLogProgress() {
    auto now = SteadyClock::now();
    if (now - last_progress_ < o_.target.progress_interval) {
      return;
    }
    last_progress_ = now;
    double seconds = SecondsSince(start_);
    log_.Info("generate_progress",
              {{"rows", sent_},
               {"committed", stats_.rows},
               {"of", o_.rows},
               {"rate", static_cast<int64_t>(sent_ / seconds)}});
  }

  const HistoryOptions& o_;
  PgConn& conn_;
  const std::string copy_sql_;
  StopSignal& stop_;
  Logger log_;

  SteadyClock::time_point start_ = SteadyClock::now();
  SteadyClock::time_point last_progress_ = start_;
  bool in_copy_ = false;
  int64_t sent_ = 0;
  int64_t batch_rows_ = 0;
  int64_t batch_attacker_rows_ = 0;
  GenerateStats stats_;
};

}  // namespace

Result<GenerateStats> WriteHistory(const HistoryOptions& o) {
  PULSE_RETURN_IF_ERROR(ValidateHistoryOptions(o));
  Logger log("generate");

  // The table's shape, old or new, decides which columns are written.
  PULSE_ASSIGN_OR_RETURN(PgConn conn,
                         PgConn::Connect(o.target.url, "pulse-generate"));
  PULSE_RETURN_IF_ERROR(
      CreateActivityTable(conn, o.target.table, o.target.legacy_comment));
  PULSE_ASSIGN_OR_RETURN(bool with_comment,
                         HasCommentColumn(conn, o.target.table));
  TimelineOptions timeline = TimelineFor(o);
  log.Info("history_started", {{"table", o.target.table},
                               {"rows", o.rows},
                               {"since", FormatRfc3339Ms(timeline.start)},
                               {"until", FormatRfc3339Ms(timeline.end)},
                               {"seed", o.target.generator.seed},
                               {"comment", with_comment}});

  // Generate on one thread while this one sends; the thread is joined
  // before anything returns.
  HistorySender sender(o, conn, CopySql(conn, o.target.table, with_comment));
  ChunkPipe pipe(kPipeDepth);
  std::thread producer([&] { ProduceChunks(o, with_comment, pipe); });
  Status sent = sender.Run(pipe);
  if (!sent.ok()) {
    pipe.Cancel();
  }
  producer.join();
  sender.Finish();

  // The summary says what is durable, also when the run failed.
  const GenerateStats& stats = sender.stats();
  log.Info(sent.ok() ? "history_done" : "history_stopped",
           {{"rows", stats.rows},
            {"transactions", stats.transactions},
            {"attacker_rows", stats.attacker_rows},
            {"seconds", stats.seconds},
            {"rate", static_cast<int64_t>(stats.rows_per_second())}});
  if (!sent.ok()) {
    return sent.WithContext(fmt::format("history into {} ({} rows committed)",
                                        o.target.table, stats.rows));
  }
  return stats;
}

}  // namespace pulse::generate
