// Unit tests for the hll sketch. Expected bytes and hashes below were
// produced once by postgresql-hll 2.17 itself; tests/hll_pg_test.cc checks
// the same properties against a live server at scale.

#include "common/hll.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "common/murmur3.h"

namespace pulse {
namespace {

using Kind = Hll::Kind;

// A hash that lands in register `index` with rank `rank` (>= 1).
uint64_t HashFor(int log2m, uint64_t index, int rank) {
  return index | (uint64_t{1} << (log2m + rank - 1));
}

std::string Bytes(std::initializer_list<int> values) {
  std::string s;
  for (int v : values) {
    s.push_back(static_cast<char>(v));
  }
  return s;
}

Hll Build(const HllParams& params, const std::vector<uint64_t>& hashes) {
  Hll h(params);
  for (uint64_t x : hashes) {
    h.Add(x);
  }
  return h;
}

// Equal, or both NaN (the extension's estimate is NaN for some params).
bool SameEstimate(double a, double b) {
  return a == b || (std::isnan(a) && std::isnan(b));
}

std::vector<uint64_t> RandomHashes(uint64_t seed, size_t n) {
  std::mt19937_64 rng(seed);
  std::vector<uint64_t> v(n);
  for (uint64_t& x : v) {
    x = rng();
  }
  return v;
}

// --- hashing ---------------------------------------------------------------

TEST(HllHashTest, MatchesHllHashTextAcrossTailLengths) {
  struct Case {
    const char* text;
    int64_t want;  // SELECT hll_hash_text(text)
  };
  const Case cases[] = {
      {"", 0},
      {"a", -8839064797231613815},
      {"abc", -5434086359492102041},
      {"abcdefgh", -3708139591217214462},
      {"abcdefghi", 380484692874131812},
      {"0123456789abcdef", 5467490433528156583},
      {"0123456789abcdefg", -8200385122730116642},
      {"0123456789abcdef0123456789abcde", -7279034606055215360},
      {"f47ac10b-58cc-4372-a567-0e02b2c3d479", 5424877583464256765},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.text);
    EXPECT_EQ(static_cast<int64_t>(HllHashBytes(c.text)), c.want);
  }
}

TEST(HllHashTest, SeedIsUsedAsUnsigned32Bits) {
  EXPECT_EQ(static_cast<int64_t>(HllHashBytes("abc", 1)), -7167269562150657552);
  EXPECT_EQ(static_cast<int64_t>(HllHashBytes("abc", 42)), 974194376405153750);
  EXPECT_EQ(static_cast<int64_t>(HllHashBytes("abc", -1)), 6497983451653082904);
}

TEST(HllHashTest, BinaryBytesMatchHllHashBytea) {
  EXPECT_EQ(static_cast<int64_t>(HllHashBytes(Bytes({0x00, 0xff, 0x10}))),
            867466321211273721);
}

TEST(Murmur3Test, LowHalfIsTheHllHash) {
  EXPECT_EQ(Murmur3X64_128("abc", 0).low, HllHashBytes("abc"));
  EXPECT_NE(Murmur3X64_128("abc", 0).high, Murmur3X64_128("abc", 0).low);
}

// --- params and header ------------------------------------------------------

TEST(HllParamsTest, AutoExplicitLimitFillsTheBytesOfAFullSketch) {
  EXPECT_EQ(kExtensionDefaultParams.ExplicitLimit(), 160);
  EXPECT_EQ(kUserSketchParams.ExplicitLimit(), 2560);
  EXPECT_EQ((HllParams{14, 5, -1, true}).ExplicitLimit(), 1280);
  EXPECT_EQ((HllParams{11, 5, 64, true}).ExplicitLimit(), 64);
}

TEST(HllParamsTest, RejectsWhatTheExtensionCannotStoreOrEstimate) {
  const HllParams bad[] = {
      {3, 5, -1, true},   {18, 5, -1, true},    {11, 0, -1, true},
      {11, 8, -1, true},  {11, 5, -2, true},    {11, 5, 3, true},
      {11, 5, 100, true}, {11, 5, 16384, true},
  };
  for (const HllParams& p : bad) {
    SCOPED_TRACE(p.ToString());
    EXPECT_FALSE(p.Validate().ok());
    EXPECT_FALSE(Hll::Create(p).ok());
  }
  EXPECT_TRUE((HllParams{4, 1, 0, false}).Validate().ok());
  EXPECT_TRUE((HllParams{17, 7, 8192, true}).Validate().ok());
}

TEST(HllSerializeTest, EmptyIsTheHeaderAlone) {
  EXPECT_EQ(Hll(kExtensionDefaultParams).Serialize(),
            Bytes({0x11, 0x8b, 0x7f}));  // SELECT hll_empty()
  EXPECT_EQ(Hll(HllParams{14, 5, -1, true}).Serialize(),
            Bytes({0x11, 0x8e, 0x7f}));
  EXPECT_EQ(Hll(HllParams{4, 7, 8192, false}).Serialize(),
            Bytes({0x11, 0xc4, 0x0e}));
  EXPECT_EQ(Hll(kUserSketchParams).Serialize(), Bytes({0x11, 0x8f, 0x7f}));
}

// --- representations --------------------------------------------------------

TEST(HllSerializeTest, ExplicitHashesAreBigEndianInSignedOrder) {
  Hll h(kExtensionDefaultParams);
  h.Add(1);
  h.Add(~uint64_t{0});       // -1
  h.Add(uint64_t{1} << 63);  // INT64_MIN
  h.Add(1);                  // a repeat changes nothing
  EXPECT_EQ(h.kind(), Kind::kExplicit);
  EXPECT_EQ(h.Cardinality(), 3.0);
  // hll_add(hll_add(hll_add(hll_empty(), 1), -1), -9223372036854775808)
  EXPECT_EQ(
      h.Serialize(),
      Bytes({0x12, 0x8b, 0x7f, 0x80, 0,    0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff,
             0xff, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0,    1}));
}

TEST(HllSerializeTest, SparseChunkIsIndexThenValueMsbFirst) {
  // hll_add(hll_empty(4,5,0,1), 35): register 3 gets value 2.
  Hll h(HllParams{4, 5, 0, true});
  h.Add(35);
  EXPECT_EQ(h.kind(), Kind::kSparse);
  EXPECT_EQ(h.Serialize(), Bytes({0x13, 0x84, 0x40, 0x31, 0x00}));
}

TEST(HllSerializeTest, FullPacksEveryRegisterMsbFirst) {
  // hll_add(hll_add(hll_empty(4,5,0,0), 35), 1039)
  Hll h(HllParams{4, 5, 0, false});
  h.Add(35);
  h.Add(1039);
  EXPECT_EQ(h.kind(), Kind::kFull);
  EXPECT_EQ(h.Serialize(),
            Bytes({0x14, 0x84, 0x00, 0, 0, 0x20, 0, 0, 0, 0, 0, 0, 0x07}));
}

TEST(HllPromotionTest, ExplicitHoldsExactlyTheLimitThenTurnsSparse) {
  Hll h(kExtensionDefaultParams);
  const std::vector<uint64_t> hashes = RandomHashes(7, 161);
  for (size_t i = 0; i < 160; ++i) {
    h.Add(hashes[i]);
  }
  EXPECT_EQ(h.kind(), Kind::kExplicit);
  h.Add(hashes[0]);
  EXPECT_EQ(h.kind(), Kind::kExplicit) << "a repeat must not promote";
  h.Add(hashes[160]);
  EXPECT_EQ(h.kind(), Kind::kSparse);
}

TEST(HllSerializeTest, ASetSerializesAsTheSketchOfItsHashes) {
  // Any order, repeats, every representation and both explicit limits:
  // the bytes equal those of a sketch the hashes were added to.
  const HllParams params[] = {kExtensionDefaultParams, kUserSketchParams,
                              HllParams{11, 5, 0, true},
                              HllParams{11, 5, 16, false}};
  for (const HllParams& p : params) {
    const auto limit = static_cast<size_t>(p.ExplicitLimit());
    for (size_t n :
         {size_t{0}, size_t{1}, size_t{7}, limit, limit + 1, size_t{3000}}) {
      SCOPED_TRACE(p.ToString() + " n=" + std::to_string(n));
      std::vector<uint64_t> hashes = RandomHashes(n + 1, n);
      Hll want(p);
      for (uint64_t h : hashes) {
        want.Add(h);
      }
      hashes.insert(hashes.end(), hashes.begin(), hashes.begin() + n / 2);
      std::string got = "prefix";
      Hll::AppendSerializedSet(p, hashes, got);
      EXPECT_EQ(got, "prefix" + want.Serialize());
      EXPECT_EQ(hashes.size(), n) << "deduplicated in place";
    }
  }
}

TEST(HllPromotionTest, ExpthreshZeroSkipsExplicit) {
  Hll h(HllParams{11, 5, 0, true});
  h.Add(12345);
  EXPECT_EQ(h.kind(), Kind::kSparse);
}

TEST(HllPromotionTest, SparseWhileStrictlySmallerThanFull) {
  // 2048 registers of 5 bits = 10240 bits; a chunk is 16 bits, so sparse
  // holds up to 639 filled registers.
  Hll h(HllParams{11, 5, 0, true});
  for (uint64_t i = 0; i < 639; ++i) {
    h.Add(HashFor(11, i, 1));
  }
  EXPECT_EQ(h.kind(), Kind::kSparse);
  EXPECT_EQ(h.Serialize().size(), 3u + 639 * 2);
  h.Add(HashFor(11, 639, 1));
  EXPECT_EQ(h.kind(), Kind::kFull);
  EXPECT_EQ(h.Serialize().size(), 3u + 1280);
}

TEST(HllPromotionTest, SparseOffGoesStraightToFull) {
  Hll h(HllParams{11, 5, 0, false});
  h.Add(12345);
  EXPECT_EQ(h.kind(), Kind::kFull);
}

TEST(HllRegisterTest, RankIsCappedByRegwidthAndZeroRestLeavesRegisterEmpty) {
  Hll h(HllParams{4, 2, 0, true});  // values up to 3
  h.Add(HashFor(4, 5, 9));
  h.Add(2);  // hash >> log2m == 0: offers value 0
  // One chunk (6 bits): index 5, value 3 -> 0101 11 + 00 pad -> 0x5c.
  EXPECT_EQ(h.Serialize(), Bytes({0x13, 0x24, 0x40, 0x5c}));
}

// --- round trips
// ---------------------------------------------------------------

TEST(HllRoundTripTest, EveryKindReadsBackToTheSameBytes) {
  struct Case {
    HllParams params;
    size_t n;
    Kind kind;
  };
  const Case cases[] = {
      {kUserSketchParams, 0, Kind::kEmpty},
      {kUserSketchParams, 1, Kind::kExplicit},
      {kUserSketchParams, 2560, Kind::kExplicit},
      {kUserSketchParams, 4000, Kind::kSparse},
      {kUserSketchParams, 50000, Kind::kFull},
      {kExtensionDefaultParams, 300, Kind::kSparse},
      {HllParams{10, 3, 16, false}, 17, Kind::kFull},
      {HllParams{17, 7, -1, true}, 20000, Kind::kSparse},
      {HllParams{4, 1, 2, true}, 100, Kind::kFull},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.params.ToString() + " n=" + std::to_string(c.n));
    const Hll h = Build(c.params, RandomHashes(c.n, c.n));
    ASSERT_EQ(h.kind(), c.kind);
    const std::string bytes = h.Serialize();
    auto back = Hll::Deserialize(bytes);
    ASSERT_TRUE(back.ok()) << back.status().ToString();
    EXPECT_EQ(back->params(), c.params);
    EXPECT_EQ(back->kind(), c.kind);
    EXPECT_EQ(back->Serialize(), bytes);
    EXPECT_TRUE(SameEstimate(back->Cardinality(), h.Cardinality()));
  }
}

TEST(HllRoundTripTest, UndefinedHasNoEstimateAndAbsorbsAdds) {
  auto h = Hll::Deserialize(Bytes({0x10, 0x8b, 0x7f}));
  ASSERT_TRUE(h.ok()) << h.status().ToString();
  EXPECT_TRUE(h->undefined());
  EXPECT_FALSE(h->empty());
  EXPECT_TRUE(std::isnan(h->Cardinality()));
  EXPECT_EQ(h->Estimate(), 0u);
  h->Add(42);
  EXPECT_EQ(h->Serialize(), Bytes({0x10, 0x8b, 0x7f}));
}

TEST(HllRoundTripTest, ExplicitWithNoHashesStaysExplicit) {
  auto h = Hll::Deserialize(Bytes({0x12, 0x8b, 0x7f}));
  ASSERT_TRUE(h.ok()) << h.status().ToString();
  EXPECT_TRUE(h->empty());
  EXPECT_EQ(h->kind(), Kind::kExplicit);
  EXPECT_EQ(h->Serialize(), Bytes({0x12, 0x8b, 0x7f}));
}

TEST(HllRoundTripTest, SparseRepeatedIndexKeepsTheLastChunk) {
  // (4,5,0,1): chunks "register 3 = 2" then "register 3 = 1".
  // 001100010 001100001 + 6 pad bits -> 31 18 40.
  auto h = Hll::Deserialize(Bytes({0x13, 0x84, 0x40, 0x31, 0x18, 0x40}));
  ASSERT_TRUE(h.ok()) << h.status().ToString();
  Hll want(HllParams{4, 5, 0, true});
  want.Add(HashFor(4, 3, 1));
  EXPECT_EQ(h->Serialize(), want.Serialize());
}

// --- merge
// ------------------------------------------------------------------------

class HllMergeTest : public ::testing::Test {
 protected:
  // Sizes chosen to give each representation under kExtensionDefaultParams.
  static Hll Of(size_t n, uint64_t seed) {
    return Build(kExtensionDefaultParams, RandomHashes(seed, n));
  }
  static std::string Merged(const Hll& a, const Hll& b) {
    Hll out = a;
    Status s = out.Merge(b);
    EXPECT_TRUE(s.ok()) << s.ToString();
    return out.Serialize();
  }
};

TEST_F(HllMergeTest, IsCommutativeAndIdempotentAcrossRepresentations) {
  const Hll sketches[] = {Hll(kExtensionDefaultParams), Of(5, 1), Of(150, 2),
                          Of(400, 3), Of(5000, 4)};
  for (const Hll& a : sketches) {
    for (const Hll& b : sketches) {
      SCOPED_TRACE(std::to_string(int(a.kind())) + "+" +
                   std::to_string(int(b.kind())));
      EXPECT_EQ(Merged(a, b), Merged(b, a));
      EXPECT_EQ(Merged(a, a), a.Serialize());
    }
  }
}

TEST_F(HllMergeTest, EqualsAddingEverythingIntoOneSketch) {
  const std::pair<size_t, size_t> sizes[] = {
      {3, 4},    {80, 80},  {80, 81},    {100, 100},
      {10, 300}, {300, 10}, {400, 5000}, {5000, 5000}};
  for (auto [na, nb] : sizes) {
    SCOPED_TRACE(std::to_string(na) + "+" + std::to_string(nb));
    const std::vector<uint64_t> a = RandomHashes(na * 31, na);
    const std::vector<uint64_t> b = RandomHashes(nb * 37 + 1, nb);
    std::vector<uint64_t> all = a;
    all.insert(all.end(), b.begin(), b.end());
    Hll merged = Build(kExtensionDefaultParams, a);
    ASSERT_TRUE(merged.Merge(Build(kExtensionDefaultParams, b)).ok());
    EXPECT_EQ(merged.Serialize(),
              Build(kExtensionDefaultParams, all).Serialize());
  }
}

TEST_F(HllMergeTest, OverlappingExplicitListsCountEachHashOnce) {
  const std::vector<uint64_t> all = RandomHashes(9, 150);
  Hll a = Build(kExtensionDefaultParams, {all.begin(), all.begin() + 100});
  const Hll b = Build(kExtensionDefaultParams, {all.begin() + 50, all.end()});
  ASSERT_TRUE(a.Merge(b).ok());
  EXPECT_EQ(a.kind(), Kind::kExplicit);
  EXPECT_EQ(a.Cardinality(), 150.0);
}

TEST_F(HllMergeTest, SmallListIntoLargeListEqualsAddingEitherWay) {
  // Short lists are merged by search rather than by walking both lists;
  // overlaps at both ends and in the middle must still count once.
  const std::vector<uint64_t> all = RandomHashes(10, 1200);
  const std::vector<uint64_t> large(all.begin(), all.begin() + 1000);
  std::vector<uint64_t> small(all.begin() + 1000, all.end());
  small.insert(small.end(), all.begin(), all.begin() + 30);
  small.insert(small.end(), all.begin() + 970, all.begin() + 1000);
  const Hll want = Build(kUserSketchParams, all);
  for (bool large_first : {true, false}) {
    SCOPED_TRACE(large_first ? "large.Merge(small)" : "small.Merge(large)");
    Hll a = Build(kUserSketchParams, large_first ? large : small);
    ASSERT_TRUE(
        a.Merge(Build(kUserSketchParams, large_first ? small : large)).ok());
    EXPECT_EQ(a.kind(), Kind::kExplicit);
    EXPECT_EQ(a.Serialize(), want.Serialize());
  }
}

TEST_F(HllMergeTest, UndefinedAbsorbsAndEmptyIsNeutral) {
  auto undefined = Hll::Deserialize(Bytes({0x10, 0x8b, 0x7f}));
  ASSERT_TRUE(undefined.ok());
  const Hll some = Of(20, 5);
  EXPECT_EQ(Merged(some, *undefined), undefined->Serialize());
  EXPECT_EQ(Merged(*undefined, some), undefined->Serialize());
  EXPECT_EQ(Merged(some, Hll(kExtensionDefaultParams)), some.Serialize());
  EXPECT_EQ(Merged(Hll(kExtensionDefaultParams), some), some.Serialize());
}

TEST_F(HllMergeTest, RefusesOtherParamsNamingBothUnchanged) {
  Hll a = Of(10, 6);
  const std::string before = a.Serialize();
  for (const HllParams& other :
       {HllParams{12, 5, -1, true}, HllParams{11, 4, -1, true},
        HllParams{11, 5, 128, true}, HllParams{11, 5, -1, false}}) {
    SCOPED_TRACE(other.ToString());
    Status s = a.Merge(Hll(other));
    ASSERT_FALSE(s.ok());
    EXPECT_EQ(s.code(), Status::Code::kInvalidArgument);
    EXPECT_NE(s.message().find(kExtensionDefaultParams.ToString()),
              std::string::npos);
    EXPECT_NE(s.message().find(other.ToString()), std::string::npos);
    EXPECT_EQ(a.Serialize(), before);
  }
}

// --- estimates and memory
// ----------------------------------------------------------

TEST(HllEstimateTest, ExplicitIsExactAndEmptyIsZero) {
  EXPECT_EQ(Hll().Cardinality(), 0.0);
  EXPECT_EQ(Build(kUserSketchParams, RandomHashes(1, 2000)).Estimate(), 2000u);
}

TEST(HllEstimateTest, LinearCountingWhileRegistersAreZero) {
  // One filled register of 2048: 2048 * ln(2048 / 2047).
  Hll h(HllParams{11, 5, 0, true});
  h.Add(HashFor(11, 0, 1));
  EXPECT_DOUBLE_EQ(h.Cardinality(), 2048.0 * std::log(2048.0 / 2047.0));
  EXPECT_EQ(h.Estimate(), 1u);
}

TEST(HllEstimateTest, StaysWithinTwoPercentForProjectParams) {
  for (size_t n : {10000u, 100000u, 1000000u}) {
    SCOPED_TRACE(n);
    const Hll h = Build(kUserSketchParams, RandomHashes(n + 17, n));
    EXPECT_NEAR(h.Cardinality() / n, 1.0, 0.02);
  }
}

TEST(HllMemoryTest, SmallSetsStaySmall) {
  const Hll small = Build(kUserSketchParams, RandomHashes(3, 10));
  EXPECT_LT(small.MemoryBytes(), 512u);
  const Hll full = Build(kUserSketchParams, RandomHashes(3, 100000));
  EXPECT_LE(full.MemoryBytes(), sizeof(Hll) + (size_t{1} << 15));
}

// --- malformed input
// ----------------------------------------------------------------

TEST(HllDeserializeTest, MalformedInputIsRefusedNamingTheProblem) {
  struct Case {
    std::string bytes;
    const char* names;  // expected in the message
  };
  const Case cases[] = {
      {Bytes({0x11, 0x8b}), "3-byte header"},
      {Bytes({0x21, 0x8b, 0x7f}), "schema version 2"},
      {Bytes({0x15, 0x8b, 0x7f}), "type 5"},
      {Bytes({0x11, 0x83, 0x7f}), "log2m 3"},
      {Bytes({0x11, 0xeb, 0x7f}), "regwidth 8"},
      {Bytes({0x11, 0x8b, 0x14}), "expthresh 524288"},
      {Bytes({0x11, 0x8b, 0x7f, 0x00}), "empty sketch followed by 1"},
      {Bytes({0x10, 0x8b, 0x7f, 0x00}), "undefined sketch"},
      {Bytes({0x12, 0x8b, 0x7f, 1, 2, 3}), "whole number of 8-byte"},
      {Bytes(
           {0x12, 0x8b, 0x7f, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 1}),
       "does not ascend"},
      {Bytes(
           {0x12, 0x8b, 0x7f, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 2}),
       "does not ascend"},
      {Bytes({0x14, 0x84, 0x00, 0, 0}), "need 10"},
      {Bytes({0x13, 0x8b, 0x7f, 0, 0, 0}), "padding"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.names);
    auto h = Hll::Deserialize(c.bytes);
    ASSERT_FALSE(h.ok());
    EXPECT_EQ(h.status().code(), Status::Code::kInvalidArgument);
    EXPECT_NE(h.status().message().find(c.names), std::string::npos)
        << h.status().message();
  }
}

}  // namespace
}  // namespace pulse
