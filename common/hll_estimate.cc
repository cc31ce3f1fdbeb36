// Hll::Cardinality: hll_cardinality of postgresql-hll, reproduced operation
// for operation so the doubles agree to the last bit (tests/hll_pg_test.cc
// compares them exactly).

#include <array>
#include <cmath>
#include <limits>

#include "common/hll.h"

namespace pulse {
namespace {

// 1 / (1 << r) exactly as the extension computes it: a signed 64-bit shift
// whose count x86-64 takes modulo 64. Only r >= 63 differs from 2^-r, and
// no hash yields such a register once log2m >= 4; stored bytes might.
const std::array<double, 256>& InversePowers() {
  static const std::array<double, 256> table = [] {
    std::array<double, 256> t{};
    for (int r = 0; r < 256; ++r) {
      const auto power = static_cast<int64_t>(uint64_t{1} << (r & 63));
      t[r] = 1.0 / static_cast<double>(power);
    }
    return t;
  }();
  return table;
}

// alpha_m * m^2 of the HyperLogLog paper, with the extension's constants and
// order of operations (the rounding must match to the last bit).
double AlphaMSquared(size_t registers) {
  const double m = static_cast<double>(registers);
  switch (registers) {
    case 16:
      return 0.673 * m * m;
    case 32:
      return 0.697 * m * m;
    case 64:
      return 0.709 * m * m;
    default:
      return (0.7213 / (1.0 + 1.079 / m)) * m * m;
  }
}

}  // namespace

double Hll::Cardinality() const {
  switch (rep_) {
    case Rep::kUndefined:
      return std::numeric_limits<double>::quiet_NaN();
    case Rep::kEmpty:
      return 0.0;
    case Rep::kExplicit:
      return static_cast<double>(explicit_.size());
    case Rep::kRegisters:
      return RegisterEstimate();
  }
  return 0.0;
}

double Hll::RegisterEstimate() const {
  const size_t m = registers_.size();

  // Harmonic sum in register order: the same additions as the extension in
  // the same order, so the rounding agrees bit for bit.
  const std::array<double, 256>& inverse = InversePowers();
  double sum = 0.0;
  int zeros = 0;
  for (uint8_t r : registers_) {
    sum += inverse[r];
    zeros += r == 0 ? 1 : 0;
  }
  const double estimator = AlphaMSquared(m) / sum;

  // Small range: linear counting while any register is still zero.
  if (zeros != 0 && estimator < 5.0 * static_cast<double>(m) / 2.0) {
    return static_cast<double>(m) *
           std::log(static_cast<double>(m) / static_cast<double>(zeros));
  }

  // Large range: the hash space is taken as 2^(2^regwidth - 2 + log2m)
  // bits. The extension computes that with a 64-bit shift whose count x86
  // takes modulo 64; for regwidth 6 and 7 the count is past 63, the space
  // collapses and the log below goes NaN. Mirrored, not fixed.
  const uint64_t max_value = (uint64_t{1} << params_.regwidth) - 1;
  const uint64_t space_bits = (max_value - 1 + params_.log2m) % 64;
  const uint64_t space = uint64_t{1} << space_bits;
  const double space_d = static_cast<double>(space);
  if (estimator <= space_d / 30.0) {
    return estimator;
  }
  return static_cast<double>(-static_cast<int64_t>(space)) *
         std::log(1.0 - estimator / space_d);
}

uint64_t Hll::Estimate() const {
  const double c = Cardinality();
  if (!std::isfinite(c) || c <= 0.0) {
    return 0;
  }
  return static_cast<uint64_t>(std::llround(c));
}

}  // namespace pulse
