// Hll::Serialize and Hll::Deserialize: the storage format drawn in hll.h.
// Reading accepts what the extension's own reader accepts (sparse chunks
// out of order, duplicate indexes with the last one winning, zero-valued
// chunks, over-full explicit lists) and refuses the rest with a message
// naming the field, so a corrupt row is reported, not silently misread.

#include <fmt/format.h>

#include <algorithm>
#include <bit>
#include <cassert>
#include <cstring>
#include <vector>

#include "common/hll.h"

namespace pulse {
namespace {

constexpr uint8_t kSchemaVersion = 1;
constexpr size_t kHeaderBytes = 3;
constexpr int kAutoExpthreshCode = 63;
// The extension's in-memory cap on explicit hashes (128 KiB minus a count).
constexpr size_t kMaxExplicitHashes = 16383;

// Storage is big-endian whatever the host is.
template <typename T>
T BigEndian(T v) {
  if constexpr (std::endian::native == std::endian::little) {
    if constexpr (sizeof(T) == 8) {
      return __builtin_bswap64(v);
    } else {
      return __builtin_bswap32(v);
    }
  }
  return v;
}

// Writes bit fields most significant bit first, as the extension packs,
// into a buffer the caller sized exactly; whole 32-bit words at a time.
class BitWriter {
 public:
  explicit BitWriter(char* out) : out_(out) {}

  // `value` must fit in `bits` (at most 32) bits.
  void Write(uint32_t value, int bits) {
    buffer_ = (buffer_ << bits) | value;
    pending_ += bits;
    if (pending_ >= 32) {
      pending_ -= 32;
      const uint32_t word =
          BigEndian(static_cast<uint32_t>(buffer_ >> pending_));
      std::memcpy(out_, &word, 4);
      out_ += 4;
    }
  }

  // Writes what is left, the last byte padded with zero bits.
  void Flush() {
    for (; pending_ >= 8; pending_ -= 8) {
      *out_++ = static_cast<char>(buffer_ >> (pending_ - 8));
    }
    if (pending_ > 0) {
      *out_++ = static_cast<char>(buffer_ << (8 - pending_));
      pending_ = 0;
    }
  }

 private:
  char* out_;
  uint64_t buffer_ = 0;  // only the low `pending_` bits are still unwritten
  int pending_ = 0;
};

// Reads bit fields most significant bit first. The caller checks that the
// input holds enough bits.
class BitReader {
 public:
  explicit BitReader(std::string_view bytes)
      : next_(reinterpret_cast<const uint8_t*>(bytes.data())) {}

  uint32_t Read(int bits) {
    while (available_ < bits) {
      buffer_ = (buffer_ << 8) | *next_++;
      available_ += 8;
    }
    available_ -= bits;
    return static_cast<uint32_t>(buffer_ >> available_) &
           ((uint32_t{1} << bits) - 1);
  }

 private:
  const uint8_t* next_;
  uint64_t buffer_ = 0;
  int available_ = 0;
};

// Byte 2's low six bits: 63 auto, 0 zero, else log2(expthresh) + 1.
uint8_t EncodeExpthresh(int64_t expthresh) {
  if (expthresh == -1) {
    return kAutoExpthreshCode;
  }
  return static_cast<uint8_t>(std::bit_width(static_cast<uint64_t>(expthresh)));
}

int64_t DecodeExpthresh(uint8_t code) {
  if (code == kAutoExpthreshCode) {
    return -1;
  }
  return code == 0 ? 0 : int64_t{1} << (code - 1);
}

Status Malformed(std::string message) {
  return Status::InvalidArgument("malformed hll: " + std::move(message));
}

// Header: version and type, register geometry, sparseon and expthresh.
void AppendHeader(std::string& out, Hll::Kind k, const HllParams& params) {
  out.push_back(static_cast<char>((kSchemaVersion << 4) | uint8_t(k)));
  out.push_back(static_cast<char>(((params.regwidth - 1) << 5) | params.log2m));
  out.push_back(static_cast<char>((params.sparseon ? 0x40 : 0) |
                                  EncodeExpthresh(params.expthresh)));
}

// An explicit list's body: big-endian, in signed ascending order.
template <typename Word>
void AppendExplicit(std::string& out, const std::vector<Word>& sorted) {
  size_t at = out.size();
  out.resize(at + 8 * sorted.size());
  for (size_t i = 0; i < sorted.size(); ++i) {
    const uint64_t word = BigEndian(static_cast<uint64_t>(sorted[i]));
    std::memcpy(out.data() + at + 8 * i, &word, 8);
  }
}

}  // namespace

void Hll::AppendSerializedSet(const HllParams& params,
                              std::vector<uint64_t>& hashes, std::string& out) {
  // The extension's order (signed), without duplicates.
  std::sort(hashes.begin(), hashes.end(), [](uint64_t a, uint64_t b) {
    return static_cast<int64_t>(a) < static_cast<int64_t>(b);
  });
  hashes.erase(std::unique(hashes.begin(), hashes.end()), hashes.end());

  // Small sets are an explicit list, written as is; others take the sketch.
  if (!hashes.empty() &&
      hashes.size() <= static_cast<size_t>(params.ExplicitLimit())) {
    AppendHeader(out, Kind::kExplicit, params);
    AppendExplicit(out, hashes);
    return;
  }
  Hll h(params);
  for (uint64_t v : hashes) {
    h.Add(v);
  }
  out += h.Serialize();
}

std::string Hll::Serialize() const {
  const Kind k = kind();
  const int log2m = params_.log2m;
  const int regwidth = params_.regwidth;
  std::string out;
  AppendHeader(out, k, params_);

  switch (k) {
    case Kind::kUndefined:
    case Kind::kEmpty:
      return out;

    case Kind::kExplicit:
      AppendExplicit(out, explicit_);
      return out;

    case Kind::kSparse: {
      // Nonzero registers only, each as index then value.
      const int chunk = log2m + regwidth;
      out.resize(kHeaderBytes + (size_t{filled_} * chunk + 7) / 8);
      assert(filled_ == CountFilled());

      // Collect the nonzero indexes without a branch per register (which
      // registers are set is random), then write them.
      std::vector<uint32_t> filled(size_t{filled_} + 1);
      size_t n = 0;
      for (size_t i = 0; i < registers_.size(); ++i) {
        filled[n] = static_cast<uint32_t>(i);
        n += registers_[i] != 0 ? 1 : 0;
      }
      BitWriter writer(out.data() + kHeaderBytes);
      for (size_t k = 0; k < n; ++k) {
        const uint32_t i = filled[k];
        writer.Write((i << regwidth) | registers_[i], chunk);
      }
      writer.Flush();
      return out;
    }

    case Kind::kFull: {
      out.resize(kHeaderBytes + (registers_.size() * regwidth + 7) / 8);
      // Four registers per write (at most 28 bits); the count is a
      // multiple of 16.
      BitWriter writer(out.data() + kHeaderBytes);
      const uint8_t* r = registers_.data();
      for (size_t i = 0; i < registers_.size(); i += 4) {
        const uint32_t four = (uint32_t{r[i]} << (3 * regwidth)) |
                              (uint32_t{r[i + 1]} << (2 * regwidth)) |
                              (uint32_t{r[i + 2]} << regwidth) | r[i + 3];
        writer.Write(four, 4 * regwidth);
      }
      writer.Flush();
      return out;
    }
  }
  return out;
}

Result<Hll> Hll::Deserialize(std::string_view bytes) {
  // Header: every type has all three bytes.
  if (bytes.size() < kHeaderBytes) {
    return Malformed(fmt::format(
        "{} bytes, shorter than the 3-byte header every sketch starts with",
        bytes.size()));
  }
  const auto* b = reinterpret_cast<const uint8_t*>(bytes.data());
  const int version = b[0] >> 4;
  if (version != kSchemaVersion) {
    return Malformed(fmt::format(
        "schema version {} in byte 0 (0x{:02x}); only version 1 exists",
        version, b[0]));
  }
  const int type = b[0] & 0x0f;
  HllParams params;
  params.log2m = b[1] & 0x1f;
  params.regwidth = (b[1] >> 5) + 1;
  params.sparseon = ((b[2] >> 6) & 1) != 0;
  params.expthresh = DecodeExpthresh(b[2] & 0x3f);
  if (Status s = params.Validate(); !s.ok()) {
    return Malformed(fmt::format("header 0x{:02x}{:02x}{:02x}: {}", b[0], b[1],
                                 b[2], s.message()));
  }

  Hll hll(params);
  const std::string_view payload = bytes.substr(kHeaderBytes);
  const int regwidth = params.regwidth;
  switch (type) {
    case 0:
    case 1:
      // Undefined and empty are the header alone.
      if (!payload.empty()) {
        return Malformed(fmt::format(
            "{} sketch followed by {} payload bytes; it must be the 3-byte "
            "header alone",
            type == 0 ? "undefined" : "empty", payload.size()));
      }
      hll.rep_ = type == 0 ? Rep::kUndefined : Rep::kEmpty;
      return hll;

    case 2: {
      // Explicit: whole 8-byte hashes, strictly ascending as signed values.
      if (payload.size() % 8 != 0) {
        return Malformed(fmt::format(
            "explicit payload of {} bytes is not a whole number of 8-byte "
            "hashes",
            payload.size()));
      }
      const size_t n = payload.size() / 8;
      if (n > kMaxExplicitHashes) {
        return Malformed(fmt::format(
            "explicit sketch of {} hashes; the extension holds at most {}", n,
            kMaxExplicitHashes));
      }
      hll.explicit_.reserve(n);
      for (size_t i = 0; i < n; ++i) {
        uint64_t bits = 0;
        for (size_t k = 0; k < 8; ++k) {
          bits = (bits << 8) | static_cast<uint8_t>(payload[8 * i + k]);
        }
        const auto hash = static_cast<int64_t>(bits);
        if (i > 0 && hash <= hll.explicit_.back()) {
          return Malformed(fmt::format(
              "explicit hash {} ({}) does not ascend past hash {} ({}); "
              "hashes must be distinct and sorted as signed integers",
              i, hash, i - 1, hll.explicit_.back()));
        }
        hll.explicit_.push_back(hash);
      }
      hll.rep_ = Rep::kExplicit;
      return hll;
    }

    case 3: {
      // Sparse: as many whole chunks as the bytes hold; the rest is padding
      // and must be under a byte.
      const int chunk = params.log2m + regwidth;
      const size_t bits = payload.size() * 8;
      const size_t chunks = bits / chunk;
      if (bits - chunks * chunk >= 8) {
        return Malformed(fmt::format(
            "sparse payload of {} bytes leaves {} bits after {} chunks of {} "
            "bits; padding must be under 8 bits",
            payload.size(), bits - chunks * chunk, chunks, chunk));
      }
      hll.registers_.assign(size_t{1} << params.log2m, 0);
      BitReader reader(payload);
      for (size_t i = 0; i < chunks; ++i) {
        // Like the extension: assign, so a repeated index keeps the last.
        const uint32_t entry = reader.Read(chunk);
        hll.registers_[entry >> regwidth] =
            static_cast<uint8_t>(entry & hll.max_value_);
      }
      hll.filled_ = static_cast<uint32_t>(hll.CountFilled());
      hll.rep_ = Rep::kRegisters;
      return hll;
    }

    case 4: {
      // Full: exactly the bytes 2^log2m registers need; padding ignored.
      const size_t m = size_t{1} << params.log2m;
      const size_t want = (m * regwidth + 7) / 8;
      if (payload.size() != want) {
        return Malformed(fmt::format(
            "full payload of {} bytes; log2m {} and regwidth {} need {}",
            payload.size(), params.log2m, regwidth, want));
      }
      hll.registers_.resize(m);
      BitReader reader(payload);
      for (size_t i = 0; i < m; i += 4) {
        const uint32_t four = reader.Read(4 * regwidth);
        for (int k = 0; k < 4; ++k) {
          hll.registers_[i + k] = static_cast<uint8_t>(
              (four >> ((3 - k) * regwidth)) & hll.max_value_);
        }
      }
      hll.filled_ = static_cast<uint32_t>(hll.CountFilled());
      hll.rep_ = Rep::kRegisters;
      return hll;
    }

    default:
      return Malformed(fmt::format(
          "type {} in byte 0 (0x{:02x}); known types are 0 undefined, "
          "1 empty, 2 explicit, 3 sparse, 4 full",
          type, b[0]));
  }
}

}  // namespace pulse
