// PostgreSQL's COPY text format, both ways: fields separated by tabs, NULL
// as \N, and backslash, tab, newline and carriage return escaped, so any
// value (hostile ones included) crosses byte for byte. Pure functions.

#ifndef PULSE_COMMON_COPY_TEXT_H_
#define PULSE_COMMON_COPY_TEXT_H_

#include <optional>
#include <string>
#include <string_view>

namespace pulse {

// Appends `value` escaped for COPY text format.
void AppendCopyText(std::string_view value, std::string& out);

// Appends `value` escaped, or \N for null.
void AppendCopyField(std::optional<std::string_view> value, std::string& out);

// Decodes one field of COPY TO output (escapes such as \t, \n, \\ and
// octal). Returns false if the field is the NULL marker (\N).
bool UnescapeCopyField(std::string_view field, std::string& out);

}  // namespace pulse

#endif  // PULSE_COMMON_COPY_TEXT_H_
