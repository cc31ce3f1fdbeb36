#include "generate/copy_format.h"

#include <array>

#include "common/time_util.h"

namespace pulse::generate {

namespace {

// The escape letter for each byte that needs one, else 0.
constexpr std::array<char, 256> MakeEscapes() {
  std::array<char, 256> e{};
  e['\\'] = '\\';
  e['\t'] = 't';
  e['\n'] = 'n';
  e['\r'] = 'r';
  return e;
}
constexpr std::array<char, 256> kEscapes = MakeEscapes();

}  // namespace

void AppendCopyText(std::string_view value, std::string& out) {
  // Runs without special bytes, the common case, are copied whole.
  size_t run = 0;
  for (size_t i = 0; i < value.size(); ++i) {
    char e = kEscapes[static_cast<unsigned char>(value[i])];
    if (e == 0) {
      continue;
    }
    out.append(value.data() + run, i - run);
    out.push_back('\\');
    out.push_back(e);
    run = i + 1;
  }
  out.append(value.data() + run, value.size() - run);
}

void AppendCopyField(std::optional<std::string_view> value, std::string& out) {
  if (value) {
    AppendCopyText(*value, out);
  } else {
    out.append("\\N");
  }
}

void AppendCopyLine(const ActivityRow& row, bool with_comment,
                    std::string& out) {
  char ts[24];
  FormatRfc3339Ms(row.timestamp, ts);

  AppendCopyText(row.action, out);
  out.push_back('\t');
  AppendCopyField(row.user, out);
  out.push_back('\t');
  out.append(ts, sizeof ts);
  out.push_back('\t');
  AppendCopyField(row.ip, out);
  out.push_back('\t');
  AppendCopyField(row.user_agent, out);
  out.push_back('\t');
  AppendCopyText(row.collection, out);
  out.push_back('\t');
  AppendCopyText(row.item, out);
  out.push_back('\t');
  AppendCopyField(row.origin, out);
  if (with_comment) {
    out.push_back('\t');
    AppendCopyField(row.comment, out);
  }
  out.push_back('\n');
}

}  // namespace pulse::generate
