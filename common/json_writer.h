// JsonWriter: appends compact JSON to a std::string, fast enough for the
// activity stream's hot path (no allocation beyond the output's growth).
//
// It tracks commas itself; callers write Key() then a value inside objects.
// Strings are escaped per RFC 8259; bytes that are not valid UTF-8 are
// replaced by U+FFFD so the output is always valid JSON, and the number of
// replacements is reported by replaced_bytes().
//
// Not thread-safe; one writer per output string.

#ifndef PULSE_COMMON_JSON_WRITER_H_
#define PULSE_COMMON_JSON_WRITER_H_

#include <cstdint>
#include <string>
#include <string_view>

namespace pulse {

class JsonWriter {
 public:
  explicit JsonWriter(std::string& out) : out_(out) {}

  JsonWriter& BeginObject() {
    Separate();
    out_.push_back('{');
    first_ = true;
    return *this;
  }
  JsonWriter& EndObject() {
    out_.push_back('}');
    first_ = false;
    return *this;
  }
  JsonWriter& BeginArray() {
    Separate();
    out_.push_back('[');
    first_ = true;
    return *this;
  }
  JsonWriter& EndArray() {
    out_.push_back(']');
    first_ = false;
    return *this;
  }
  JsonWriter& Key(std::string_view key) {
    Separate();
    AppendString(key);
    out_.push_back(':');
    first_ = true;  // the value that follows takes no comma
    return *this;
  }

  JsonWriter& String(std::string_view s) {
    Separate();
    AppendString(s);
    return *this;
  }
  JsonWriter& Null() {
    Separate();
    out_.append("null");
    return *this;
  }
  JsonWriter& Bool(bool b) {
    Separate();
    out_.append(b ? "true" : "false");
    return *this;
  }
  JsonWriter& Int(int64_t v);
  JsonWriter& Uint(uint64_t v);
  JsonWriter& Double(double v);
  // Appends `json` verbatim as a value; the caller vouches for it.
  JsonWriter& Raw(std::string_view json) {
    Separate();
    out_.append(json);
    return *this;
  }

  // Bytes of invalid UTF-8 replaced so far.
  uint64_t replaced_bytes() const { return replaced_; }

 private:
  void Separate() {
    if (!first_) {
      out_.push_back(',');
    }
    first_ = false;
  }
  void AppendString(std::string_view s);

  std::string& out_;
  bool first_ = true;
  uint64_t replaced_ = 0;
};

// Length of the valid UTF-8 sequence starting at s[i], or 0 if invalid.
size_t Utf8SequenceLength(std::string_view s, size_t i);

}  // namespace pulse

#endif  // PULSE_COMMON_JSON_WRITER_H_
