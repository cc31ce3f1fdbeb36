// Bitmaps for user and IP rows written before migration 004.

#include <fmt/format.h>

#include <utility>

#include "common/copy_text.h"
#include "common/hex.h"
#include "common/log.h"
#include "sink/collection_bits.h"
#include "sink/upsert_sql.h"
#include "sink/writer.h"

namespace pulse::sink {

namespace {

// The tables with bitmaps, in the order the pass takes them: user_<g>,
// then ip_<g>.
constexpr size_t kBitmapTables = 2 * kAllGrains.size();

// The n-th of them: its name and key column.
std::pair<std::string, const char*> BitmapTable(size_t n) {
  KindColumns c = ColumnsOf(n < kAllGrains.size() ? Kind::kUser : Kind::kIp);
  Grain g = kAllGrains[n % kAllGrains.size()];
  return {fmt::format("pulse.{}_{}", c.table, GrainName(g)), c.name};
}

constexpr const char* kFilledKey = "collection_bits.filled";

}  // namespace

Result<Writer::FillProgress> Writer::FillOlderBitmaps(int max_rows) {
  if (fill_.done) {
    return FillProgress{.filled = 0, .done = true};
  }
  PULSE_RETURN_IF_ERROR(conn_.Run("BEGIN"));
  Result<int64_t> filled = FillOlderBitmapsStep(max_rows);
  if (!filled.ok()) {
    conn_.Run("ROLLBACK").IgnoreError();
    return filled.status().WithContext("filling bitmaps of older rows");
  }
  PULSE_RETURN_IF_ERROR(conn_.Run("COMMIT"));
  fill_.filled += *filled;
  if (fill_.done && fill_.filled > 0) {
    Logger("sink").Info("older_bitmaps_filled", {{"rows", fill_.filled}});
  }
  return FillProgress{.filled = *filled, .done = fill_.done};
}

Result<int64_t> Writer::FillOlderBitmapsStep(int max_rows) {
  // Under the sink's lock: a batch applied meanwhile could change a
  // sketch between reading it and writing its bitmap.
  PULSE_RETURN_IF_ERROR(conn_
                            .Exec("SELECT pg_advisory_xact_lock($1)",
                                  {std::to_string(kSinkLockKey)})
                            .status());
  if (fill_.table == 0 && fill_.bucket.empty()) {
    PULSE_ASSIGN_OR_RETURN(
        PgResult r, conn_.Exec("SELECT 1 FROM pulse.settings WHERE key = $1",
                               {kFilledKey}));
    if (r.rows() > 0) {
      fill_.done = true;
      return 0;
    }
  }
  PULSE_ASSIGN_OR_RETURN(CollectionBits bits,
                         CollectionBits::LoadAndRegister(conn_, {}));

  // The next rows of the current table, in index order; sketches only of
  // those without a bitmap.
  const auto [table, key] = BitmapTable(fill_.table);
  bool first = fill_.bucket.empty();
  PULSE_ASSIGN_OR_RETURN(
      PgResult rows,
      conn_.Exec(
          fmt::format("SELECT bucket::text, {1}, CASE WHEN collections_bits "
                      "IS NULL THEN collections::text END FROM {0} WHERE "
                      "$1::boolean OR (bucket, {1}) > ($2::timestamptz, $3) "
                      "ORDER BY bucket, {1} LIMIT $4",
                      table, key),
          {first ? "true" : "false",
           first ? std::nullopt : std::optional(fill_.bucket), fill_.key,
           std::to_string(max_rows)}));

  // Bitmaps of those whose sketch is exact over numbered collections.
  std::string copy;
  int64_t found = 0;
  for (int i = 0; i < rows.rows(); ++i) {
    if (rows.IsNull(i, 2)) {
      continue;
    }
    std::optional<std::string> bytes = ParseByteaHex(rows.Get(i, 2));
    if (!bytes) {
      return Status::DataLoss(fmt::format("{}: sketch of {} is not bytea hex",
                                          table, rows.GetString(i, 1)));
    }
    PULSE_ASSIGN_OR_RETURN(Hll sketch, Hll::Deserialize(*bytes));
    std::optional<std::string> bitmap = bits.BitmapOf(sketch);
    if (!bitmap) {
      continue;
    }
    AppendCopyText(rows.Get(i, 0), copy);
    copy += '\t';
    AppendCopyText(rows.Get(i, 1), copy);
    copy += '\t' + *bitmap + '\n';
    ++found;
  }
  if (!copy.empty()) {
    PULSE_RETURN_IF_ERROR(conn_.CopyInBegin("COPY pulse_s_bits FROM STDIN"));
    PULSE_RETURN_IF_ERROR(conn_.CopyInPut(copy));
    PULSE_RETURN_IF_ERROR(conn_.CopyInEnd());
    PULSE_RETURN_IF_ERROR(conn_.Run(fmt::format(
        "UPDATE {0} t SET collections_bits = s.bits::bit(256) FROM "
        "pulse_s_bits s WHERE t.bucket = s.bucket AND t.{1} = s.name AND "
        "t.collections_bits IS NULL",
        table, key)));
  }

  // Move on: past these rows, or to the next table, or done.
  if (rows.rows() == max_rows) {
    fill_.bucket = rows.GetString(rows.rows() - 1, 0);
    fill_.key = rows.GetString(rows.rows() - 1, 1);
  } else if (++fill_.table < kBitmapTables) {
    fill_.bucket.clear();
    fill_.key.clear();
  } else {
    PULSE_RETURN_IF_ERROR(
        conn_
            .Exec("INSERT INTO pulse.settings (key, value) VALUES ($1, "
                  "'true') ON CONFLICT (key) DO NOTHING",
                  {kFilledKey})
            .status());
    fill_.done = true;
  }
  return found;
}

}  // namespace pulse::sink
