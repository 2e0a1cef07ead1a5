// tests/support/proto_wire.h: the protobuf wire format, read field by field, for the tests'
// own decoders (tests/support/profile_decoder.h, tests/fuzz/protobuf_reader.h), written apart
// from the agent's writer (agent/base/proto_writer.h). Strict: a varint of at most 10 bytes,
// every length inside its message, and only the wire types asked for (varint and
// length-delimited always, 64-bit fixed on request); anything else stops the reader and
// clears ok().

#ifndef VITALS_TESTS_SUPPORT_PROTO_WIRE_H_
#define VITALS_TESTS_SUPPORT_PROTO_WIRE_H_

#include <cstdint>
#include <cstring>

#include "absl/strings/string_view.h"

namespace vitals_test {

class WireReader {
 public:
  // `fixed64`: accept wire type 1 (doubles, fixed64), whose 8 bytes Next gives as `value`.
  explicit WireReader(absl::string_view data, bool fixed64 = false)
      : data_(data), fixed64_(fixed64) {}
  bool done() const { return pos_ >= data_.size(); }
  bool ok() const { return ok_; }
  uint64_t Varint() {
    uint64_t v = 0;
    for (int shift = 0; shift < 64 && pos_ < data_.size(); shift += 7) {
      const uint8_t b = static_cast<uint8_t>(data_[pos_++]);
      v |= uint64_t{b & 0x7fu} << shift;
      if ((b & 0x80) == 0) return v;
    }
    ok_ = false;
    return 0;
  }
  // A length and that many bytes (a length-delimited field's payload, or one message of a
  // delimited stream).
  bool Bytes(absl::string_view* out) {
    const uint64_t n = Varint();
    if (!ok_ || n > data_.size() - pos_) {
      ok_ = false;
      return false;
    }
    *out = data_.substr(pos_, n);
    pos_ += n;
    return true;
  }
  // The next field: its number, wire type and (wire type 0 or 1) value or (2) bytes. False at
  // the end or on a malformed field.
  bool Next(uint32_t* field, uint32_t* wire, uint64_t* value, absl::string_view* bytes) {
    if (done() || !ok_) return false;
    const uint64_t tag = Varint();
    *field = static_cast<uint32_t>(tag >> 3);
    *wire = static_cast<uint32_t>(tag & 7);
    if (*wire == 0) {
      *value = Varint();
    } else if (*wire == 1 && fixed64_ && data_.size() - pos_ >= 8) {
      std::memcpy(value, data_.data() + pos_, 8);
      pos_ += 8;
    } else if (*wire == 2) {
      if (!Bytes(bytes)) return false;
    } else {
      ok_ = false;
      return false;
    }
    return ok_;
  }

 private:
  absl::string_view data_;
  size_t pos_ = 0;
  bool fixed64_;
  bool ok_ = true;
};

// The double in a fixed64 field's value.
inline double WireDouble(uint64_t bits) {
  double d;
  std::memcpy(&d, &bits, sizeof d);
  return d;
}

}  // namespace vitals_test

#endif  // VITALS_TESTS_SUPPORT_PROTO_WIRE_H_
