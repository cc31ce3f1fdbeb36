// COPY text format for activity rows: one line per row, columns separated
// by tabs, NULL as \N, and backslash, tab, newline and carriage return
// escaped so any value (hostile ones included) arrives byte for byte.
//
// Column order is ActivityColumns() of activity_table.h. Pure functions.

#ifndef PULSE_GENERATE_COPY_FORMAT_H_
#define PULSE_GENERATE_COPY_FORMAT_H_

#include <optional>
#include <string>
#include <string_view>

#include "common/copy_text.h"
#include "generate/activity_generator.h"

namespace pulse::generate {

// Appends the row as one COPY line, "\n" included. `with_comment` adds the
// legacy shape's comment column last.
void AppendCopyLine(const ActivityRow& row, bool with_comment,
                    std::string& out);

}  // namespace pulse::generate

#endif  // PULSE_GENERATE_COPY_FORMAT_H_
