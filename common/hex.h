// Lower-case hex encoding of bytes, as bytea literals and rollup sketches
// carry them.

#ifndef PULSE_COMMON_HEX_H_
#define PULSE_COMMON_HEX_H_

#include <string>
#include <string_view>

namespace pulse {

// Appends two hex digits per byte of `bytes` to `out`.
inline void AppendHex(std::string& out, std::string_view bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  size_t at = out.size();
  out.resize(at + 2 * bytes.size());
  char* p = out.data() + at;
  for (unsigned char c : bytes) {
    *p++ = kHex[c >> 4];
    *p++ = kHex[c & 0xF];
  }
}

}  // namespace pulse

#endif  // PULSE_COMMON_HEX_H_
