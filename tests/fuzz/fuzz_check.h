// tests/fuzz/fuzz_check.h: what every fuzz target shares: FUZZ_CHECK, which aborts with the
// broken invariant (libFuzzer then saves the input as a crash), and FuzzInput, which cuts the
// fuzzer's bytes into the fields a target needs.

#ifndef VITALS_TESTS_FUZZ_FUZZ_CHECK_H_
#define VITALS_TESTS_FUZZ_FUZZ_CHECK_H_

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "absl/strings/string_view.h"

#define FUZZ_CHECK(cond, ...)                                                           \
  do {                                                                                  \
    if (!(cond)) {                                                                      \
      std::fprintf(stderr, "%s:%d: invariant broken: %s\n", __FILE__, __LINE__, #cond); \
      std::fprintf(stderr, __VA_ARGS__);                                                \
      std::fprintf(stderr, "\n");                                                       \
      std::abort();                                                                     \
    }                                                                                   \
  } while (0)

namespace vitals_fuzz {

// The fuzzer's bytes, taken field by field: Next() up to the next separator byte (0xff, which
// no valid UTF-8 text holds, so text fields stay arbitrary), Byte() one byte, Double() eight,
// Rest() the rest.
class FuzzInput {
 public:
  FuzzInput(const uint8_t* data, size_t size) : rest_(reinterpret_cast<const char*>(data), size) {}
  absl::string_view Next() {
    const size_t at = rest_.find('\xff');
    absl::string_view field = rest_.substr(0, at);
    rest_ = at == absl::string_view::npos ? absl::string_view() : rest_.substr(at + 1);
    return field;
  }
  uint8_t Byte() {
    if (rest_.empty()) return 0;
    const uint8_t b = static_cast<uint8_t>(rest_[0]);
    rest_.remove_prefix(1);
    return b;
  }
  // The next 8 bytes as a double (NaN, infinities and all), missing bytes zero.
  double Double() {
    uint64_t bits = 0;
    for (int i = 0; i < 8; ++i) bits |= uint64_t{Byte()} << (8 * i);
    double d;
    std::memcpy(&d, &bits, sizeof d);
    return d;
  }
  absl::string_view Rest() {
    absl::string_view r = rest_;
    rest_ = {};
    return r;
  }
  bool empty() const { return rest_.empty(); }

 private:
  absl::string_view rest_;
};

// Printable for a failure message: the first 200 bytes, escaped.
inline std::string Show(absl::string_view s) {
  std::string out;
  for (char c : s.substr(0, 200)) {
    const unsigned char u = static_cast<unsigned char>(c);
    if (u >= 0x20 && u < 0x7f && c != '\\') {
      out += c;
    } else {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", u);
      out += buf;
    }
  }
  return out;
}

}  // namespace vitals_fuzz

#endif  // VITALS_TESTS_FUZZ_FUZZ_CHECK_H_
