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
  void Double(uint32_t field, double value) {
    Tag(field, 1);
    uint64_t bits;
    std::memcpy(&bits, &value, sizeof bits);
    for (int i = 0; i < 8; ++i) out_.push_back(static_cast<char>((bits >> (8 * i)) & 0xff));
  }
  // A varint with no tag: the length prefix of a delimited message.
  void Length(uint64_t n) { Raw(n); }
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
  void Tag(uint32_t field, uint32_t wire_type) { Raw((uint64_t{field} << 3) | wire_type); }
  void Raw(uint64_t v) {
    while (v >= 0x80) {
      out_.push_back(static_cast<char>((v & 0x7f) | 0x80));
      v >>= 7;
    }
    out_.push_back(static_cast<char>(v));
  }

  std::string out_;
};

}  // namespace internal
}  // namespace vitals

#endif  // VITALS_AGENT_BASE_PROTO_WRITER_H_
