// Hll against postgresql-hll in a real PostgreSQL: the C++ sketch must write
// the bytes hll_add_agg writes, read what the extension writes, merge like
// hll_union and estimate like hll_cardinality.
//
// Values are random uuids (seed recorded in every failure), COPYed once per
// seed into a temp table with a row number; SQL aggregates prefixes of the
// table and C++ adds the same prefixes, so each size costs one query.

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "common/hll.h"
#include "common/pg.h"
#include "tests/harness/pg_server.h"

namespace pulse::testing {
namespace {

using Kind = Hll::Kind;

// Lowercase hyphenated v4 uuids: what PostgreSQL prints for uuid::text.
std::vector<std::string> RandomUuids(uint64_t seed, size_t n) {
  std::mt19937_64 rng(seed);
  std::vector<std::string> out;
  out.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    const uint64_t a = (rng() & ~uint64_t{0xf000}) | 0x4000;
    const uint64_t b = (rng() & ~(uint64_t{3} << 62)) | (uint64_t{2} << 62);
    char text[37];
    std::snprintf(text, sizeof text, "%08x-%04x-%04x-%04x-%012llx",
                  unsigned(a >> 32), unsigned((a >> 16) & 0xffff),
                  unsigned(a & 0xffff), unsigned(b >> 48),
                  static_cast<unsigned long long>(b & 0xffffffffffffULL));
    out.emplace_back(text);
  }
  return out;
}

std::vector<uint64_t> Hashes(const std::vector<std::string>& values) {
  std::vector<uint64_t> out;
  out.reserve(values.size());
  for (const std::string& v : values) {
    out.push_back(HllHashBytes(v));
  }
  return out;
}

Hll Build(const HllParams& p, const std::vector<uint64_t>& hashes, size_t begin,
          size_t end) {
  Hll h(p);
  for (size_t i = begin; i < end; ++i) {
    h.Add(hashes[i]);
  }
  return h;
}

// PostgreSQL float8 text ("NaN", "1234.5", ...); NULL reads as NaN.
double ParseFloat(const PgResult& r, int row, int col) {
  if (r.IsNull(row, col)) {
    return std::nan("");
  }
  return std::strtod(r.GetString(row, col).c_str(), nullptr);
}

// Equal, both NaN, or within 1e-9 relative.
::testing::AssertionResult SameEstimate(double cpp, double sql) {
  if (cpp == sql || (std::isnan(cpp) && std::isnan(sql)) ||
      std::fabs(cpp - sql) <= 1e-9 * std::fabs(sql)) {
    return ::testing::AssertionSuccess();
  }
  return ::testing::AssertionFailure()
         << "C++ estimate " << cpp << " vs hll_cardinality " << sql;
}

// Equal bytes; on a mismatch, where they first differ rather than a dump
// of two 20 KiB strings.
::testing::AssertionResult SameBytes(const std::string& cpp,
                                     const std::string& sql) {
  if (cpp == sql) {
    return ::testing::AssertionSuccess();
  }
  const auto diff =
      std::mismatch(cpp.begin(), cpp.end(), sql.begin(), sql.end());
  const size_t at = static_cast<size_t>(diff.first - cpp.begin());
  return ::testing::AssertionFailure()
         << "C++ wrote " << cpp.size() << " bytes, the extension " << sql.size()
         << "; first difference at byte " << at << ": C++ "
         << ByteaHex(cpp.substr(at, 8)) << " vs " << ByteaHex(sql.substr(at, 8))
         << " (C++ head " << ByteaHex(cpp.substr(0, 12)) << ", extension head "
         << ByteaHex(sql.substr(0, 12)) << ")";
}

PgParams ParamsOf(const HllParams& p) {
  return {std::to_string(p.log2m), std::to_string(p.regwidth),
          std::to_string(p.expthresh), p.sparseon ? "1" : "0"};
}

class HllPgTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    PgServer& pg = SharedPgServer();
    db_ = new PgConn(pg.Connect(pg.CreateDatabase("hll")));
    Status s = db_->Run("CREATE EXTENSION hll");
    ASSERT_TRUE(s.ok()) << s.ToString();
  }
  static void TearDownTestSuite() {
    delete db_;
    db_ = nullptr;
  }

  // Replaces temp table `name` (i int, v uuid) with `values`, i from 1.
  static Status Load(const std::string& name,
                     const std::vector<std::string>& values) {
    PULSE_RETURN_IF_ERROR(db_->Run("DROP TABLE IF EXISTS " + name +
                                   "; CREATE TEMP TABLE " + name +
                                   " (i int PRIMARY KEY, v uuid NOT NULL)"));
    PULSE_RETURN_IF_ERROR(db_->CopyInBegin("COPY " + name + " FROM STDIN"));
    std::string chunk;
    for (size_t i = 0; i < values.size(); ++i) {
      chunk += std::to_string(i + 1) + '\t' + values[i] + '\n';
      if (chunk.size() > (1 << 20) || i + 1 == values.size()) {
        PULSE_RETURN_IF_ERROR(db_->CopyInPut(chunk));
        chunk.clear();
      }
    }
    PULSE_RETURN_IF_ERROR(db_->CopyInEnd());
    return db_->Run("ANALYZE " + name);
  }

  struct SqlSketch {
    std::string bytes;
    double cardinality = 0;
  };

  // Runs `sql`, whose first column is an hll and second its cardinality.
  static Result<SqlSketch> Query(const std::string& sql,
                                 const PgParams& params) {
    PULSE_ASSIGN_OR_RETURN(PgResult r, db_->Exec(sql, params));
    auto bytes = ParseByteaHex(r.Get(0, 0));
    if (!bytes) {
      return Status::Internal("not an hll: " + r.GetString(0, 0));
    }
    return SqlSketch{*bytes, ParseFloat(r, 0, 1)};
  }

  // hll_add_agg over the first `n` rows of `table`.
  static Result<SqlSketch> AddAgg(const std::string& table, size_t n,
                                  const HllParams& p) {
    PgParams params = ParamsOf(p);
    params.emplace_back(std::to_string(n));
    return Query(
        "SELECT s, hll_cardinality(s) FROM (SELECT hll_add_agg("
        "hll_hash_text(v::text), $1::int, $2::int, $3::bigint, $4::int) AS s "
        "FROM " +
            table + " WHERE i <= $5) q",
        params);
  }

  // hll_union of two sketches sent as bytea parameters.
  static Result<SqlSketch> Union(const std::string& a, const std::string& b) {
    return Query(
        "SELECT s, hll_cardinality(s) FROM (SELECT hll_union("
        "$1::bytea::hll, $2::bytea::hll) AS s) q",
        {ByteaHex(a), ByteaHex(b)});
  }

  static PgConn* db_;
};

PgConn* HllPgTest::db_ = nullptr;

// Prefix lengths worth checking: fixed sizes, both sides of the explicit
// limit, and both sides of the first prefix that is stored full.
std::vector<size_t> SizesToCheck(const HllParams& p,
                                 const std::vector<uint64_t>& hashes) {
  std::set<size_t> sizes = {1, 2, 10, 100, 1000, 10000, 100000, hashes.size()};
  const size_t limit = static_cast<size_t>(p.ExplicitLimit());
  sizes.insert({limit, limit + 1});
  if (limit > 1) {
    sizes.insert(limit - 1);
  }
  size_t lo = 1;
  size_t hi = hashes.size();
  if (Build(p, hashes, 0, hi).kind() == Kind::kFull) {
    while (lo < hi) {
      const size_t mid = lo + (hi - lo) / 2;
      if (Build(p, hashes, 0, mid).kind() == Kind::kFull) {
        hi = mid;
      } else {
        lo = mid + 1;
      }
    }
    sizes.insert({lo - 1, lo, lo + 1});
  }
  std::vector<size_t> out;
  for (size_t n : sizes) {
    if (n >= 1 && n <= hashes.size()) {
      out.push_back(n);
    }
  }
  return out;
}

TEST_F(HllPgTest, SketchBytesAndEstimateMatchHllAddAggAtEverySize) {
  struct Case {
    HllParams params;
    size_t values;
  };
  const Case cases[] = {
      {kUserSketchParams, 100000},  {kExtensionDefaultParams, 20000},
      {{14, 5, -1, true}, 60000},   {{12, 4, 64, true}, 20000},
      {{10, 5, 0, true}, 5000},     {{11, 5, -1, false}, 5000},
      {{13, 6, -1, true}, 30000},   {{4, 1, 2, true}, 200},
      {{17, 7, 8192, true}, 60000}, {{16, 3, 256, false}, 2000},
  };
  for (const Case& c : cases) {
    for (uint64_t seed : {1, 2}) {
      SCOPED_TRACE(c.params.ToString() + " seed=" + std::to_string(seed));
      const std::vector<std::string> values = RandomUuids(seed, c.values);
      const std::vector<uint64_t> hashes = Hashes(values);
      Status loaded = Load("vals", values);
      ASSERT_TRUE(loaded.ok()) << loaded.ToString();

      // Grow one C++ sketch through the sizes; compare at each.
      Hll cpp(c.params);
      size_t added = 0;
      std::set<Kind> kinds;
      for (size_t n : SizesToCheck(c.params, hashes)) {
        SCOPED_TRACE("n=" + std::to_string(n));
        for (; added < n; ++added) {
          cpp.Add(hashes[added]);
        }
        auto sql = AddAgg("vals", n, c.params);
        ASSERT_TRUE(sql.ok()) << sql.status().ToString();
        kinds.insert(cpp.kind());
        ASSERT_TRUE(SameBytes(cpp.Serialize(), sql->bytes));
        EXPECT_TRUE(SameEstimate(cpp.Cardinality(), sql->cardinality));

        // What the extension wrote reads back to the same bytes.
        auto back = Hll::Deserialize(sql->bytes);
        ASSERT_TRUE(back.ok()) << back.status().ToString();
        EXPECT_EQ(back->Serialize(), sql->bytes);
      }

      // The sizes really crossed every promotion.
      EXPECT_TRUE(c.params.ExplicitLimit() == 0 ||
                  kinds.count(Kind::kExplicit));
      EXPECT_EQ(kinds.count(Kind::kSparse), c.params.sparseon ? 1u : 0u);
      EXPECT_TRUE(kinds.count(Kind::kFull));
    }
  }
}

TEST_F(HllPgTest, NoRowsAggregateToNullAndEmptyMatchesHllEmpty) {
  const HllParams p = kUserSketchParams;
  auto none = db_->Exec(
      "SELECT hll_add_agg(hll_hash_text(g::text), $1::int, $2::int, "
      "$3::bigint, $4::int) FROM generate_series(1, 0) g",
      ParamsOf(p));
  ASSERT_TRUE(none.ok()) << none.status().ToString();
  EXPECT_TRUE(none->IsNull(0, 0)) << "callers must COALESCE to hll_empty";

  auto empty = Query(
      "SELECT s, hll_cardinality(s) FROM (SELECT hll_empty($1::int, "
      "$2::int, $3::bigint, $4::int) AS s) q",
      ParamsOf(p));
  ASSERT_TRUE(empty.ok()) << empty.status().ToString();
  EXPECT_EQ(empty->bytes, Hll(p).Serialize());
  EXPECT_EQ(empty->cardinality, 0.0);

  auto only_nulls = Query(
      "SELECT s, hll_cardinality(s) FROM (SELECT hll_add_agg(NULL::"
      "hll_hashval, $1::int, $2::int, $3::bigint, $4::int) AS s "
      "FROM generate_series(1, 3)) q",
      ParamsOf(p));
  ASSERT_TRUE(only_nulls.ok()) << only_nulls.status().ToString();
  EXPECT_EQ(only_nulls->bytes, Hll(p).Serialize());
}

TEST_F(HllPgTest, MergeMatchesHllUnionAcrossRepresentations) {
  for (const HllParams& p : {kExtensionDefaultParams, kUserSketchParams}) {
    for (uint64_t seed : {3, 4}) {
      SCOPED_TRACE(p.ToString() + " seed=" + std::to_string(seed));
      const size_t limit = static_cast<size_t>(p.ExplicitLimit());
      const std::vector<uint64_t> h = Hashes(RandomUuids(seed, 40 * limit));

      // Overlapping slices of one list give every representation.
      std::vector<Hll> sketches = {
          Hll(p),
          Build(p, h, 0, 5),
          Build(p, h, 3, limit - 2),
          Build(p, h, limit / 2, limit + limit / 2),
          Build(p, h, 0, 2 * limit),
          Build(p, h, limit, 40 * limit),
      };
      std::string undefined = Hll(p).Serialize();
      undefined[0] = 0x10;
      sketches.push_back(*Hll::Deserialize(undefined));

      for (const Hll& a : sketches) {
        for (const Hll& b : sketches) {
          SCOPED_TRACE(std::to_string(int(a.kind())) + " + " +
                       std::to_string(int(b.kind())));
          auto sql = Union(a.Serialize(), b.Serialize());
          ASSERT_TRUE(sql.ok()) << sql.status().ToString();
          Hll merged = a;
          ASSERT_TRUE(merged.Merge(b).ok());
          EXPECT_TRUE(SameBytes(merged.Serialize(), sql->bytes));
          EXPECT_TRUE(SameEstimate(merged.Cardinality(), sql->cardinality));
        }
      }
    }
  }
}

TEST_F(HllPgTest, SketchesWrittenHereAreAcceptedAndUnionAggregated) {
  const HllParams p = kUserSketchParams;
  const std::vector<uint64_t> h = Hashes(RandomUuids(5, 60000));
  // A typmod column: hll_in checks each sketch's header against it.
  Status created = db_->Run(fmt::format(
      "DROP TABLE IF EXISTS sk; CREATE TEMP TABLE sk (id int, s hll({}, {}, "
      "{}, {}))",
      p.log2m, p.regwidth, p.expthresh, p.sparseon ? 1 : 0));
  ASSERT_TRUE(created.ok()) << created.ToString();

  // Batches as the aggregator makes them: small, overlapping, some large.
  Hll all(p);
  const std::pair<size_t, size_t> batches[] = {
      {0, 10}, {5, 300}, {300, 3000}, {2000, 9000}, {9000, 60000}, {0, 1}};
  for (size_t i = 0; i < std::size(batches); ++i) {
    SCOPED_TRACE("batch " + std::to_string(i));
    const Hll batch = Build(p, h, batches[i].first, batches[i].second);
    ASSERT_TRUE(all.Merge(batch).ok());

    // Text input ('\x..'::hll) validates the bytes like COPY would.
    auto one = db_->Exec(
        "INSERT INTO sk VALUES ($1::int, $2::hll) RETURNING "
        "hll_cardinality(s), hll_cardinality($3::bytea::hll)",
        {std::to_string(i), ByteaHex(batch.Serialize()),
         ByteaHex(batch.Serialize())});
    ASSERT_TRUE(one.ok()) << one.status().ToString();
    EXPECT_TRUE(SameEstimate(batch.Cardinality(), ParseFloat(*one, 0, 0)));
    EXPECT_TRUE(SameEstimate(batch.Cardinality(), ParseFloat(*one, 0, 1)));
  }

  auto sql = Query(
      "SELECT s, hll_cardinality(s) FROM (SELECT hll_union_agg(s) AS s "
      "FROM sk) q",
      {});
  ASSERT_TRUE(sql.ok()) << sql.status().ToString();
  EXPECT_TRUE(SameBytes(all.Serialize(), sql->bytes));
  EXPECT_TRUE(SameEstimate(all.Cardinality(), sql->cardinality));
}

TEST_F(HllPgTest, DifferentParamsAreRefusedByBoth) {
  const Hll ours = Build(kUserSketchParams, {1, 2, 3}, 0, 3);
  for (const HllParams& other :
       {kExtensionDefaultParams, HllParams{15, 4, -1, true},
        HllParams{15, 5, 256, true}, HllParams{15, 5, -1, false}}) {
    SCOPED_TRACE(other.ToString());
    const Hll theirs(other);
    EXPECT_FALSE(Union(ours.Serialize(), theirs.Serialize()).ok());
    Hll merged = ours;
    EXPECT_FALSE(merged.Merge(theirs).ok());
  }
}

TEST_F(HllPgTest, HashMatchesHllHashTextForUuidsAndEveryTailLength) {
  auto r = db_->Exec(
      "SELECT t, hll_hash_text(t) FROM (SELECT gen_random_uuid()::text AS t "
      "FROM generate_series(1, 1000) UNION ALL SELECT left(repeat(md5("
      "g::text), 3), g % 80) FROM generate_series(0, 400) g) q");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  for (int row = 0; row < r->rows(); ++row) {
    SCOPED_TRACE(r->GetString(row, 0));
    EXPECT_EQ(static_cast<int64_t>(HllHashBytes(r->Get(row, 0))),
              r->GetInt(row, 1));
  }
}

TEST_F(HllPgTest, OddButReadableBytesBehaveAsInTheExtension) {
  // Stored sketches the extension reads without complaint although it never
  // writes them; adding and merging must still agree with it.
  const std::string odd[] = {
      "\\x13844031184000",  // register 3 twice, last wins
      "\\x1384403000",      // a zero-valued chunk
      "\\x128b7f",          // explicit with no hashes
      "\\x128b42000000000000000100000000000000020000000000000003",  // > 2
  };
  for (const std::string& hex : odd) {
    SCOPED_TRACE(hex);
    auto bytes = ParseByteaHex(hex);
    ASSERT_TRUE(bytes.has_value());
    auto cpp = Hll::Deserialize(*bytes);
    ASSERT_TRUE(cpp.ok()) << cpp.status().ToString();

    for (int64_t hash : {int64_t{4}, int64_t{35}, int64_t{-7}}) {
      auto sql = Query(
          "SELECT s, hll_cardinality(s) FROM (SELECT hll_add($1::bytea::hll, "
          "$2::bigint::hll_hashval) AS s) q",
          {hex, std::to_string(hash)});
      ASSERT_TRUE(sql.ok()) << sql.status().ToString();
      Hll added = *cpp;
      added.Add(static_cast<uint64_t>(hash));
      EXPECT_TRUE(SameBytes(added.Serialize(), sql->bytes));
      EXPECT_TRUE(SameEstimate(added.Cardinality(), sql->cardinality));
    }
    auto self = Union(*bytes, *bytes);
    ASSERT_TRUE(self.ok()) << self.status().ToString();
    Hll merged = *cpp;
    ASSERT_TRUE(merged.Merge(*cpp).ok());
    EXPECT_TRUE(SameBytes(merged.Serialize(), self->bytes));
  }
}

TEST_F(HllPgTest, ProjectParamsEstimateWithinTwoPercentUpToAMillion) {
  // C++ only past 100k: the match with hll_cardinality is pinned above.
  for (uint64_t seed : {21, 22}) {
    const std::vector<uint64_t> h = Hashes(RandomUuids(seed, 1000000));
    for (size_t n : {1000u, 10000u, 100000u, 1000000u}) {
      SCOPED_TRACE("seed=" + std::to_string(seed) + " n=" + std::to_string(n));
      const double estimate = Build(kUserSketchParams, h, 0, n).Cardinality();
      EXPECT_NEAR(estimate / static_cast<double>(n), 1.0, 0.02);
    }
  }
}

}  // namespace
}  // namespace pulse::testing
