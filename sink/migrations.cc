#include "sink/migrations.h"

#include <fmt/format.h>

namespace pulse::sink {

namespace {

enum class Block { kNone, kIf, kElse };

// The marker a line holds ("if hll", "else", "end"), or empty when the line
// is ordinary SQL. Leading spaces are allowed, so markers can be indented
// with the code they guard.
std::string_view MarkerOf(std::string_view line) {
  constexpr std::string_view kPrefix = "-- pulse:";
  size_t start = line.find_first_not_of(" \t");
  if (start == std::string_view::npos ||
      line.substr(start, kPrefix.size()) != kPrefix) {
    return {};
  }
  std::string_view rest = line.substr(start + kPrefix.size());
  size_t end = rest.find_last_not_of(" \t\r\n");
  return end == std::string_view::npos ? rest : rest.substr(0, end + 1);
}

// Replaces every {{name}} of `line`; refuses names it does not know.
Result<std::string> Substitute(std::string_view line, const Migration& m,
                               int line_no, const TemplateVars& vars) {
  std::string out;
  size_t pos = 0;
  while (true) {
    size_t open = line.find("{{", pos);
    if (open == std::string_view::npos) {
      out.append(line.substr(pos));
      return out;
    }
    size_t close = line.find("}}", open);
    if (close == std::string_view::npos) {
      return Status::Internal(
          fmt::format("migration {:03}_{} line {}: '{{{{' without '}}}}'",
                      m.version, m.name, line_no));
    }
    out.append(line.substr(pos, open - pos));
    std::string_view name = line.substr(open + 2, close - open - 2);
    if (name == "sketch") {
      out += vars.hll ? vars.hll_schema + ".hll" : "bytea";
    } else if (name == "hll_schema") {
      out += vars.hll_schema;
    } else {
      return Status::Internal(
          fmt::format("migration {:03}_{} line {}: unknown placeholder "
                      "{{{{{}}}}} (known: sketch, hll_schema)",
                      m.version, m.name, line_no, name));
    }
    pos = close + 2;
  }
}

}  // namespace

Status ValidateMigrations(const std::vector<Migration>& all) {
  int previous = 0;
  for (const Migration& m : all) {
    if (m.version <= previous) {
      return Status::Internal(fmt::format(
          "embedded migrations out of order: version {} ({}) follows {}",
          m.version, m.name, previous));
    }
    previous = m.version;
  }
  return Status::Ok();
}

int NewestMigrationVersion() {
  const std::vector<Migration>& all = EmbeddedMigrations();
  return all.empty() ? 0 : all.back().version;
}

Result<std::string> RenderMigration(const Migration& m,
                                    const TemplateVars& vars) {
  std::string out;
  out.reserve(m.text.size());
  Block block = Block::kNone;
  int line_no = 0;
  size_t pos = 0;
  while (pos < m.text.size()) {
    size_t nl = m.text.find('\n', pos);
    size_t end = nl == std::string_view::npos ? m.text.size() : nl + 1;
    std::string_view line = m.text.substr(pos, end - pos);
    pos = end;
    ++line_no;

    // Block markers steer which lines survive; they never reach SQL.
    std::string_view marker = MarkerOf(line);
    if (!marker.empty()) {
      std::string error;
      if (marker == "if hll") {
        if (block != Block::kNone) {
          error = "nested '-- pulse:if'";
        }
        block = Block::kIf;
      } else if (marker == "else") {
        if (block != Block::kIf) {
          error = "'-- pulse:else' outside an if block";
        }
        block = Block::kElse;
      } else if (marker == "end") {
        if (block == Block::kNone) {
          error = "'-- pulse:end' without an if";
        }
        block = Block::kNone;
      } else {
        error = fmt::format(
            "unknown marker '-- pulse:{}' (known: if hll, "
            "else, end)",
            marker);
      }
      if (!error.empty()) {
        return Status::Internal(fmt::format("migration {:03}_{} line {}: {}",
                                            m.version, m.name, line_no, error));
      }
      out.push_back('\n');  // keeps line numbers of server errors right
      continue;
    }

    // A line inside the branch not taken becomes empty, for the same reason.
    bool kept = block == Block::kNone || (block == Block::kIf && vars.hll) ||
                (block == Block::kElse && !vars.hll);
    if (!kept) {
      out.push_back('\n');
      continue;
    }
    PULSE_ASSIGN_OR_RETURN(std::string rendered,
                           Substitute(line, m, line_no, vars));
    out += rendered;
  }

  if (block != Block::kNone) {
    return Status::Internal(fmt::format(
        "migration {:03}_{}: '-- pulse:if' not closed by '-- pulse:end'",
        m.version, m.name));
  }
  return out;
}

}  // namespace pulse::sink
