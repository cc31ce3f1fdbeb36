#include "common/json_writer.h"

#include <fmt/format.h>

#include <cmath>

namespace pulse {

namespace {

constexpr char kHex[] = "0123456789abcdef";

// Characters that can be copied as they are: printable ASCII other than
// '"' and '\\'. Everything else takes the slow path.
constexpr bool IsPlain(unsigned char c) {
  return c >= 0x20 && c < 0x80 && c != '"' && c != '\\';
}

}  // namespace

size_t Utf8SequenceLength(std::string_view s, size_t i) {
  auto byte = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  auto cont = [&](size_t k) {
    return k < s.size() && (byte(k) & 0xC0) == 0x80;
  };
  unsigned char c = byte(i);
  if (c < 0x80) {
    return 1;
  }
  if (c >= 0xC2 && c <= 0xDF) {
    return cont(i + 1) ? 2 : 0;
  }
  if (c >= 0xE0 && c <= 0xEF) {
    if (!cont(i + 1) || !cont(i + 2)) {
      return 0;
    }
    unsigned char c1 = byte(i + 1);
    if (c == 0xE0 && c1 < 0xA0) {
      return 0;  // overlong
    }
    if (c == 0xED && c1 >= 0xA0) {
      return 0;  // UTF-16 surrogate
    }
    return 3;
  }
  if (c >= 0xF0 && c <= 0xF4) {
    if (!cont(i + 1) || !cont(i + 2) || !cont(i + 3)) {
      return 0;
    }
    unsigned char c1 = byte(i + 1);
    if ((c == 0xF0 && c1 < 0x90) || (c == 0xF4 && c1 >= 0x90)) {
      return 0;
    }
    return 4;
  }
  return 0;
}

void JsonWriter::AppendString(std::string_view s) {
  out_.push_back('"');
  size_t i = 0;
  while (i < s.size()) {
    // Copy the longest plain run in one append.
    size_t run = i;
    while (run < s.size() && IsPlain(static_cast<unsigned char>(s[run]))) {
      ++run;
    }
    out_.append(s.data() + i, run - i);
    i = run;
    if (i == s.size()) {
      break;
    }

    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c == '"' || c == '\\') {
      out_.push_back('\\');
      out_.push_back(static_cast<char>(c));
      ++i;
    } else if (c < 0x20) {
      switch (c) {
        case '\n':
          out_.append("\\n");
          break;
        case '\r':
          out_.append("\\r");
          break;
        case '\t':
          out_.append("\\t");
          break;
        case '\b':
          out_.append("\\b");
          break;
        case '\f':
          out_.append("\\f");
          break;
        default:
          out_.append("\\u00");
          out_.push_back(kHex[c >> 4]);
          out_.push_back(kHex[c & 0xF]);
      }
      ++i;
    } else {
      size_t n = Utf8SequenceLength(s, i);
      if (n == 0) {
        out_.append("\xEF\xBF\xBD");  // U+FFFD
        ++replaced_;
        ++i;
      } else {
        out_.append(s.data() + i, n);
        i += n;
      }
    }
  }
  out_.push_back('"');
}

JsonWriter& JsonWriter::Int(int64_t v) {
  Separate();
  char buf[24];
  auto r = fmt::format_to_n(buf, sizeof buf, "{}", v);
  out_.append(buf, r.size);
  return *this;
}

JsonWriter& JsonWriter::Uint(uint64_t v) {
  Separate();
  char buf[24];
  auto r = fmt::format_to_n(buf, sizeof buf, "{}", v);
  out_.append(buf, r.size);
  return *this;
}

JsonWriter& JsonWriter::Double(double v) {
  Separate();
  if (!std::isfinite(v)) {
    out_.append("null");
    return *this;
  }
  char buf[32];
  auto r = fmt::format_to_n(buf, sizeof buf, "{}", v);
  out_.append(buf, r.size);
  return *this;
}

}  // namespace pulse
