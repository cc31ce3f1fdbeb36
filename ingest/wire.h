// WireReader: bounds-checked reads of PostgreSQL's big-endian wire format.
// Every read reports failure instead of reading past the end, so a
// truncated message becomes an error, never undefined behaviour.

#ifndef PULSE_INGEST_WIRE_H_
#define PULSE_INGEST_WIRE_H_

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace pulse::ingest {

class WireReader {
 public:
  explicit WireReader(std::string_view in) : in_(in) {}

  bool U8(uint8_t& v) {
    if (in_.empty()) {
      return false;
    }
    v = static_cast<uint8_t>(in_[0]);
    in_.remove_prefix(1);
    return true;
  }
  bool U16(uint16_t& v) { return Int(v); }
  bool U32(uint32_t& v) { return Int(v); }
  bool U64(uint64_t& v) { return Int(v); }
  bool I32(int32_t& v) {
    uint32_t u;
    if (!Int(u)) {
      return false;
    }
    v = static_cast<int32_t>(u);
    return true;
  }
  bool I64(int64_t& v) {
    uint64_t u;
    if (!Int(u)) {
      return false;
    }
    v = static_cast<int64_t>(u);
    return true;
  }
  // A NUL-terminated string.
  bool CString(std::string_view& s) {
    size_t nul = in_.find('\0');
    if (nul == std::string_view::npos) {
      return false;
    }
    s = in_.substr(0, nul);
    in_.remove_prefix(nul + 1);
    return true;
  }
  bool Bytes(size_t n, std::string_view& s) {
    if (in_.size() < n) {
      return false;
    }
    s = in_.substr(0, n);
    in_.remove_prefix(n);
    return true;
  }

  size_t remaining() const { return in_.size(); }
  std::string_view rest() const { return in_; }

 private:
  template <typename T>
  bool Int(T& v) {
    if (in_.size() < sizeof(T)) {
      return false;
    }
    T x = 0;
    for (size_t i = 0; i < sizeof(T); ++i) {
      x = static_cast<T>((x << 8) | static_cast<uint8_t>(in_[i]));
    }
    v = x;
    in_.remove_prefix(sizeof(T));
    return true;
  }

  std::string_view in_;
};

// Appends `v` big-endian to `out`.
template <typename T>
void PutBigEndian(std::string& out, T v) {
  for (int i = static_cast<int>(sizeof(T)) - 1; i >= 0; --i) {
    out.push_back(
        static_cast<char>((static_cast<uint64_t>(v) >> (8 * i)) & 0xFF));
  }
}

}  // namespace pulse::ingest

#endif  // PULSE_INGEST_WIRE_H_
