// Lsn: a PostgreSQL write-ahead-log position, printed as "X/Y" in hex.
//
// A value type: comparable, hashable, cheap to copy. Zero is "invalid" as in
// PostgreSQL (InvalidXLogRecPtr).

#ifndef PULSE_COMMON_LSN_H_
#define PULSE_COMMON_LSN_H_

#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace pulse {

class Lsn {
 public:
  constexpr Lsn() = default;
  constexpr explicit Lsn(uint64_t value) : value_(value) {}

  // Parses "16/B374D848". Returns nullopt for anything else.
  static std::optional<Lsn> Parse(std::string_view text);

  constexpr uint64_t value() const { return value_; }
  constexpr bool valid() const { return value_ != 0; }
  std::string ToString() const;

  friend constexpr auto operator<=>(Lsn, Lsn) = default;

 private:
  uint64_t value_ = 0;
};

}  // namespace pulse

#endif  // PULSE_COMMON_LSN_H_
