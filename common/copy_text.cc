#include "common/copy_text.h"

#include <array>

namespace pulse {

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

bool UnescapeCopyField(std::string_view field, std::string& out) {
  if (field == "\\N") {
    return false;
  }
  for (size_t i = 0; i < field.size(); ++i) {
    char c = field[i];
    if (c != '\\' || i + 1 == field.size()) {
      out.push_back(c);
      continue;
    }
    char n = field[++i];
    switch (n) {
      case 'b':
        out.push_back('\b');
        break;
      case 'f':
        out.push_back('\f');
        break;
      case 'n':
        out.push_back('\n');
        break;
      case 'r':
        out.push_back('\r');
        break;
      case 't':
        out.push_back('\t');
        break;
      case 'v':
        out.push_back('\v');
        break;
      default:
        if (n >= '0' && n <= '7') {
          // Up to three octal digits.
          int v = n - '0';
          for (int k = 0; k < 2 && i + 1 < field.size() &&
                          field[i + 1] >= '0' && field[i + 1] <= '7';
               ++k) {
            v = v * 8 + (field[++i] - '0');
          }
          out.push_back(static_cast<char>(v));
        } else {
          out.push_back(n);  // \\ and any other escaped character
        }
    }
  }
  return true;
}

}  // namespace pulse
