// Migrations: the versioned SQL files of schemas/migrations, embedded in the
// binary, and the template language they are written in.
//
// A file NNN_name.sql is version NNN. Before it runs, its text is rendered:
//
//   {{sketch}}       the sketch column type: the extension's `hll`
//                    (schema-qualified) or `bytea` without the extension
//   {{hll_schema}}   the schema holding the hll extension's functions,
//                    quoted; only meaningful inside `pulse:if hll`
//   -- pulse:if hll  lines kept only when sketches are hll ...
//   -- pulse:else    ... lines kept only when they are bytea ...
//   -- pulse:end     ... closes the block. Blocks do not nest.
//
// Any other {{...}} is an error, as is an unclosed or stray block marker,
// so a typo in a migration fails every test instead of shipping.
//
// Everything here is a pure function of its inputs; safe from any thread.

#ifndef PULSE_SINK_MIGRATIONS_H_
#define PULSE_SINK_MIGRATIONS_H_

#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace pulse::sink {

struct Migration {
  int version = 0;        // NNN of the file name
  std::string_view name;  // the rest of the file name, without .sql
  std::string_view text;  // the file as written, before rendering
};

// Every embedded migration in ascending version order. Generated at build
// time by sink/embed_migrations.cmake.
const std::vector<Migration>& EmbeddedMigrations();

// OK when versions are positive, unique and ascending.
[[nodiscard]] Status ValidateMigrations(const std::vector<Migration>& all);

// The newest embedded version: what this binary migrates a database to.
int NewestMigrationVersion();

struct TemplateVars {
  bool hll = false;
  // Quoted schema of the extension ("public"); used when hll is true.
  std::string hll_schema = "public";
};

// Renders a migration's text (see the top of this file). Errors name the
// migration, the line and what was wrong.
[[nodiscard]] Result<std::string> RenderMigration(const Migration& m,
                                                  const TemplateVars& vars);

}  // namespace pulse::sink

#endif  // PULSE_SINK_MIGRATIONS_H_
