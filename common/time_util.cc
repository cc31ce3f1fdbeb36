#include "common/time_util.h"

#include <charconv>

namespace pulse {

namespace {

// Reads exactly `n` digits at text[pos...]; advances pos.
bool ReadDigits(std::string_view text, size_t& pos, size_t n, int64_t& out) {
  if (pos + n > text.size()) {
    return false;
  }
  int64_t v = 0;
  for (size_t i = 0; i < n; ++i) {
    char c = text[pos + i];
    if (c < '0' || c > '9') {
      return false;
    }
    v = v * 10 + (c - '0');
  }
  pos += n;
  out = v;
  return true;
}

bool Expect(std::string_view text, size_t& pos, char c) {
  if (pos < text.size() && text[pos] == c) {
    ++pos;
    return true;
  }
  return false;
}

void CivilFromDays(int64_t z, int64_t& y, unsigned& m, unsigned& d) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  y = static_cast<int64_t>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  d = doy - (153 * mp + 2) / 5 + 1;
  m = mp < 10 ? mp + 3 : mp - 9;
  y += (m <= 2);
}

void Put(char* out, int64_t v, int width) {
  for (int i = width - 1; i >= 0; --i) {
    out[i] = static_cast<char>('0' + v % 10);
    v /= 10;
  }
}

}  // namespace

int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

void FormatRfc3339Ms(EventTimeMs t, char* out) {
  int64_t days = FloorTo(t, kMsPerDay) / kMsPerDay;
  int64_t ms_of_day = t - days * kMsPerDay;
  int64_t y;
  unsigned m, d;
  CivilFromDays(days, y, m, d);

  Put(out, y, 4);
  out[4] = '-';
  Put(out + 5, m, 2);
  out[7] = '-';
  Put(out + 8, d, 2);
  out[10] = 'T';
  Put(out + 11, ms_of_day / kMsPerHour, 2);
  out[13] = ':';
  Put(out + 14, ms_of_day / kMsPerMinute % 60, 2);
  out[16] = ':';
  Put(out + 17, ms_of_day / 1000 % 60, 2);
  out[19] = '.';
  Put(out + 20, ms_of_day % 1000, 3);
  out[23] = 'Z';
}

std::string FormatRfc3339Ms(EventTimeMs t) {
  std::string s(24, '\0');
  FormatRfc3339Ms(t, s.data());
  return s;
}

std::optional<EventTimeMs> ParseTimestamp(std::string_view text) {
  size_t pos = 0;
  int64_t y, mo, d, h, mi, s;

  // Date and time of day: "YYYY-MM-DD" then 'T' or ' ' then "HH:MM:SS".
  if (!ReadDigits(text, pos, 4, y) || !Expect(text, pos, '-') ||
      !ReadDigits(text, pos, 2, mo) || !Expect(text, pos, '-') ||
      !ReadDigits(text, pos, 2, d)) {
    return std::nullopt;
  }
  if (!Expect(text, pos, 'T') && !Expect(text, pos, ' ') &&
      !Expect(text, pos, 't')) {
    return std::nullopt;
  }
  if (!ReadDigits(text, pos, 2, h) || !Expect(text, pos, ':') ||
      !ReadDigits(text, pos, 2, mi) || !Expect(text, pos, ':') ||
      !ReadDigits(text, pos, 2, s)) {
    return std::nullopt;
  }
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 60) {
    return std::nullopt;
  }

  // Fraction: keep milliseconds, truncate the rest.
  int64_t ms = 0;
  if (Expect(text, pos, '.')) {
    int digits = 0;
    while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
      if (digits < 3) {
        ms = ms * 10 + (text[pos] - '0');
      }
      ++digits;
      ++pos;
    }
    if (digits == 0) {
      return std::nullopt;
    }
    for (; digits < 3; ++digits) {
      ms *= 10;
    }
  }

  // Zone: Z, +HH, +HH:MM, +HHMM (PostgreSQL prints "+00").
  int64_t offset_min = 0;
  if (Expect(text, pos, 'Z') || Expect(text, pos, 'z')) {
  } else if (pos < text.size() && (text[pos] == '+' || text[pos] == '-')) {
    int sign = text[pos] == '-' ? -1 : 1;
    ++pos;
    int64_t oh = 0, om = 0;
    if (!ReadDigits(text, pos, 2, oh)) {
      return std::nullopt;
    }
    if (Expect(text, pos, ':')) {
      if (!ReadDigits(text, pos, 2, om)) {
        return std::nullopt;
      }
    } else if (pos + 2 <= text.size()) {
      if (!ReadDigits(text, pos, 2, om)) {
        return std::nullopt;
      }
    }
    offset_min = sign * (oh * 60 + om);
  } else {
    return std::nullopt;
  }
  if (pos != text.size()) {
    return std::nullopt;
  }

  int64_t days =
      DaysFromCivil(y, static_cast<unsigned>(mo), static_cast<unsigned>(d));
  return days * kMsPerDay + h * kMsPerHour + mi * kMsPerMinute + s * 1000 + ms -
         offset_min * kMsPerMinute;
}

EventTimeMs NowMs() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch())
      .count();
}

std::optional<std::chrono::milliseconds> ParseDuration(std::string_view text) {
  size_t i = 0;
  while (i < text.size() && text[i] >= '0' && text[i] <= '9') {
    ++i;
  }
  if (i == 0) {
    return std::nullopt;
  }
  int64_t n = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + i, n);
  if (ec != std::errc()) {
    return std::nullopt;
  }
  std::string_view unit = text.substr(i);
  int64_t scale;
  if (unit.empty() || unit == "ms") {
    scale = 1;
  } else if (unit == "s") {
    scale = 1000;
  } else if (unit == "m" || unit == "min") {
    scale = kMsPerMinute;
  } else if (unit == "h") {
    scale = kMsPerHour;
  } else if (unit == "d") {
    scale = kMsPerDay;
  } else {
    return std::nullopt;
  }
  return std::chrono::milliseconds(n * scale);
}

}  // namespace pulse
