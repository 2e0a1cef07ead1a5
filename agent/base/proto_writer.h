// agent/base/proto_writer.h: the protobuf wire format, write side only, for the few messages
// the agent writes: profile.proto (agent/profiling) and the Prometheus protobuf exposition
// (exporters/protobuf_format).
//
// Why not libprotobuf: the agent only writes ten small message types, and a static library that
// links Debian's libprotobuf would clash with hosts that link their own protobuf (two versions of
// the same symbols in one process). ~60 lines of varints and length prefixes avoid that; the
// output is checked by the real parsers (`go tool pprof`, `protoc --decode_raw`) in the tests.

#ifndef VITALS_AGENT_BASE_PROTO_WRITER_H_
#define VITALS_AGENT_BASE_PROTO_WRITER_H_

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace vitals {
namespace internal {

// The wire format's two primitives, appended to `out`.
inline void AppendVarint(std::string& out, uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}
inline void AppendTag(std::string& out, uint32_t field, uint32_t wire_type) {
  AppendVarint(out, (uint64_t{field} << 3) | wire_type);
}
inline void AppendDouble(std::string& out, uint32_t field, double value) {
  AppendTag(out, field, 1);
  uint64_t bits;
  std::memcpy(&bits, &value, sizeof bits);
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((bits >> (8 * i)) & 0xff));
}

// Writes into a caller's buffer with nested messages in place: Begin() reserves room for the
// length, End() writes it and closes the gap left (a move of the message's bytes within the
// buffer), so no message is built apart and copied into its parent, and a reused buffer makes
// writing allocation-free. For large streams (the Prometheus exposition).
class ProtoAppender {
 public:
  explicit ProtoAppender(std::string& out) : out_(out) {}

  void Varint(uint32_t field, uint64_t value) {
    AppendTag(out_, field, 0);
    AppendVarint(out_, value);
  }
  // sint32/sint64: zigzag, so small negative values stay short.
  void SInt(uint32_t field, int64_t value) {
    Varint(field, (static_cast<uint64_t>(value) << 1) ^ static_cast<uint64_t>(value >> 63));
  }
  void Double(uint32_t field, double value) { AppendDouble(out_, field, value); }
  void Bytes(uint32_t field, absl::string_view bytes) {
    AppendTag(out_, field, 2);
    AppendVarint(out_, bytes.size());
    out_.append(bytes.data(), bytes.size());
  }
  // Opens a nested message as field `field`; returns the mark End() takes.
  size_t Begin(uint32_t field) {
    AppendTag(out_, field, 2);
    return BeginDelimited();
  }
  // Opens a message that only its length precedes (one of a "delimited" stream).
  size_t BeginDelimited() {
    const size_t mark = out_.size();
    out_.append(kReserved, '\0');
    return mark;
  }
  // Closes the message opened at `mark`: its length, in the fewest bytes, where it was reserved.
  void End(size_t mark) {
    const size_t length = out_.size() - mark - kReserved;
    char encoded[10];
    size_t n = 0;
    for (uint64_t v = length;; v >>= 7) {
      encoded[n++] = static_cast<char>(v >= 0x80 ? (v & 0x7f) | 0x80 : v);
      if (v < 0x80) break;
    }
    std::memcpy(&out_[mark], encoded, n);
    if (n < kReserved) out_.erase(mark + n, kReserved - n);
  }

 private:
  static constexpr size_t kReserved = 5;  // room for a length below 2^35 bytes
  std::string& out_;
};

class ProtoWriter {
 public:
  // Field `field` as a varint (int64, uint64, bool, enum). Zero is written too: callers skip
  // default values themselves where the size matters.
  void Varint(uint32_t field, uint64_t value) {
    Tag(field, 0);
    Raw(value);
  }
  void Int64(uint32_t field, int64_t value) { Varint(field, static_cast<uint64_t>(value)); }
  // sint32/sint64: zigzag-encoded varints.
  void SInt(uint32_t field, int64_t value) {
    Varint(field, (static_cast<uint64_t>(value) << 1) ^ static_cast<uint64_t>(value >> 63));
  }
  // Field `field` as a double (fixed64, little-endian).
  void Double(uint32_t field, double value) { AppendDouble(out_, field, value); }
  // Field `field` as length-delimited bytes (string, bytes).
  void Bytes(uint32_t field, absl::string_view bytes) {
    Tag(field, 2);
    Raw(bytes.size());
    out_.append(bytes.data(), bytes.size());
  }
  // A nested message, written by `writer` (its encoded bytes).
  void Message(uint32_t field, const ProtoWriter& writer) { Bytes(field, writer.data()); }
  // A packed repeated varint field (proto3's encoding of repeated scalars).
  template <typename Int>
  void Packed(uint32_t field, const std::vector<Int>& values) {
    if (values.empty()) return;
    ProtoWriter body;
    for (Int v : values) body.Raw(static_cast<uint64_t>(v));
    Bytes(field, body.data());
  }

  const std::string& data() const { return out_; }
  std::string Take() { return std::move(out_); }
  void Clear() { out_.clear(); }

 private:
  void Tag(uint32_t field, uint32_t wire_type) { AppendTag(out_, field, wire_type); }
  void Raw(uint64_t v) { AppendVarint(out_, v); }

  std::string out_;
};

}  // namespace internal
}  // namespace vitals

#endif  // VITALS_AGENT_BASE_PROTO_WRITER_H_
