// Printing a QueryTable: aligned text for people, JSON for programs.

#include <algorithm>
#include <charconv>

#include "common/json_writer.h"
#include "sink/query.h"

namespace pulse::sink {

namespace {

constexpr std::string_view kNull = "NULL";

std::string_view Cell(const std::optional<std::string>& v) {
  return v ? std::string_view(*v) : kNull;
}

// Numbers align right so digits line up; everything else left.
void Pad(std::string& out, std::string_view text, size_t width, bool right) {
  size_t fill = width > text.size() ? width - text.size() : 0;
  if (right) {
    out.append(fill, ' ');
  }
  out.append(text);
  if (!right) {
    out.append(fill, ' ');
  }
}

}  // namespace

std::string FormatTable(const QueryTable& t) {
  // Widths: the longest of the header and every cell, per column.
  std::vector<size_t> width(t.columns.size());
  for (size_t c = 0; c < t.columns.size(); ++c) {
    width[c] = t.columns[c].size();
    for (const auto& row : t.rows) {
      width[c] = std::max(width[c], Cell(row[c]).size());
    }
  }

  // Header, a rule, then the rows; two spaces between columns.
  std::string out;
  auto line = [&](auto cell_of) {
    for (size_t c = 0; c < t.columns.size(); ++c) {
      if (c > 0) {
        out += "  ";
      }
      bool last = c + 1 == t.columns.size();
      bool right = t.types[c] == ColumnType::kInt;
      std::string_view text = cell_of(c);
      Pad(out, text, last && !right ? 0 : width[c], right);
    }
    out += '\n';
  };
  line([&](size_t c) { return std::string_view(t.columns[c]); });
  std::vector<std::string> rules;
  for (size_t w : width) {
    rules.emplace_back(w, '-');
  }
  line([&](size_t c) { return std::string_view(rules[c]); });
  for (const auto& row : t.rows) {
    line([&](size_t c) { return Cell(row[c]); });
  }
  return out;
}

std::string FormatJson(const QueryTable& t) {
  std::string out;
  JsonWriter w(out);
  w.BeginArray();
  for (const auto& row : t.rows) {
    w.BeginObject();
    for (size_t c = 0; c < t.columns.size(); ++c) {
      w.Key(t.columns[c]);
      if (!row[c]) {
        w.Null();
        continue;
      }
      // Integers become JSON numbers when they parse whole.
      const std::string& v = *row[c];
      int64_t n = 0;
      auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
      if (t.types[c] == ColumnType::kInt && ec == std::errc() &&
          end == v.data() + v.size()) {
        w.Int(n);
      } else {
        w.String(v);
      }
    }
    w.EndObject();
  }
  w.EndArray();
  out += '\n';
  return out;
}

}  // namespace pulse::sink
