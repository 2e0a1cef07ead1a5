// tests/fuzz/protobuf_reader.h: a reader of the protobuf exposition format (a stream of
// length-delimited io.prometheus.client.MetricFamily messages, tests/support/metrics.proto),
// written apart from the agent's writer, strict about the wire format: every length inside
// its message, every varint at most 10 bytes, only the wire types the schema uses. Enough of
// the schema for a fuzz target to compare what the writer wrote with what went in.

#ifndef VITALS_TESTS_FUZZ_PROTOBUF_READER_H_
#define VITALS_TESTS_FUZZ_PROTOBUF_READER_H_

#include <cstdint>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"

namespace vitals_fuzz {

struct PbMetric {
  std::vector<std::pair<std::string, std::string>> labels;
  bool has_value = false;  // a gauge's or counter's value
  double value = 0;
  uint64_t count = 0;  // a histogram's
  double sum = 0;
  std::vector<std::pair<double, uint64_t>> buckets;  // (upper bound, cumulative count)
};

struct PbFamily {
  std::string name, help;
  uint64_t type = 0;
  std::vector<PbMetric> metrics;
};

class PbReader {
 public:
  explicit PbReader(absl::string_view in) : in_(in) {}
  bool done() const { return in_.empty(); }
  bool Varint(uint64_t* v) {
    *v = 0;
    for (int shift = 0; shift < 70; shift += 7) {
      if (in_.empty()) return false;
      const uint8_t b = static_cast<uint8_t>(in_[0]);
      in_.remove_prefix(1);
      *v |= uint64_t{b & 0x7fu} << shift;
      if (!(b & 0x80)) return true;
    }
    return false;
  }
  bool Bytes(absl::string_view* out) {
    uint64_t n;
    if (!Varint(&n) || n > in_.size()) return false;
    *out = in_.substr(0, n);
    in_.remove_prefix(n);
    return true;
  }
  bool Double(double* d) {
    if (in_.size() < 8) return false;
    std::memcpy(d, in_.data(), 8);
    in_.remove_prefix(8);
    return true;
  }
  // Skips a field of a wire type the schema allows; false on any other.
  bool Skip(uint32_t wire) {
    uint64_t v;
    absl::string_view s;
    double d;
    switch (wire) {
      case 0:
        return Varint(&v);
      case 1:
        return Double(&d);
      case 2:
        return Bytes(&s);
      default:
        return false;
    }
  }

 private:
  absl::string_view in_;
};

// Reads one Metric; false on a malformed message.
inline bool ReadMetric(absl::string_view bytes, PbMetric* m) {
  PbReader r(bytes);
  while (!r.done()) {
    uint64_t key;
    if (!r.Varint(&key)) return false;
    const uint32_t field = static_cast<uint32_t>(key >> 3), wire = key & 7;
    absl::string_view sub;
    if (field == 1 && wire == 2) {  // LabelPair
      if (!r.Bytes(&sub)) return false;
      PbReader l(sub);
      std::pair<std::string, std::string> pair;
      while (!l.done()) {
        uint64_t k;
        absl::string_view s;
        if (!l.Varint(&k) || (k & 7) != 2 || !l.Bytes(&s)) return false;
        ((k >> 3) == 1 ? pair.first : pair.second) = std::string(s);
      }
      m->labels.push_back(std::move(pair));
    } else if ((field == 2 || field == 3) && wire == 2) {  // Gauge, Counter
      if (!r.Bytes(&sub)) return false;
      PbReader g(sub);
      while (!g.done()) {
        uint64_t k;
        if (!g.Varint(&k)) return false;
        if (k == (1 << 3 | 1)) {
          if (!g.Double(&m->value)) return false;
          m->has_value = true;
        } else if (!g.Skip(k & 7)) {
          return false;
        }
      }
    } else if (field == 7 && wire == 2) {  // Histogram
      if (!r.Bytes(&sub)) return false;
      PbReader h(sub);
      while (!h.done()) {
        uint64_t k;
        if (!h.Varint(&k)) return false;
        if (k == (1 << 3 | 0)) {
          if (!h.Varint(&m->count)) return false;
        } else if (k == (2 << 3 | 1)) {
          if (!h.Double(&m->sum)) return false;
        } else if (k == (3 << 3 | 2)) {
          absl::string_view b;
          if (!h.Bytes(&b)) return false;
          PbReader br(b);
          std::pair<double, uint64_t> bucket{0, 0};
          while (!br.done()) {
            uint64_t bk;
            if (!br.Varint(&bk)) return false;
            if (bk == (1 << 3 | 0)) {
              if (!br.Varint(&bucket.second)) return false;
            } else if (bk == (2 << 3 | 1)) {
              if (!br.Double(&bucket.first)) return false;
            } else if (!br.Skip(bk & 7)) {
              return false;
            }
          }
          m->buckets.push_back(bucket);
        } else if (!h.Skip(k & 7)) {
          return false;
        }
      }
    } else if (!r.Skip(wire)) {
      return false;
    }
  }
  return true;
}

// Reads a delimited stream of MetricFamily messages; false on a malformed one.
inline bool ReadExposition(absl::string_view stream, std::vector<PbFamily>* out) {
  PbReader top(stream);
  while (!top.done()) {
    absl::string_view msg;
    if (!top.Bytes(&msg)) return false;
    PbFamily f;
    PbReader r(msg);
    while (!r.done()) {
      uint64_t key;
      if (!r.Varint(&key)) return false;
      const uint32_t field = static_cast<uint32_t>(key >> 3), wire = key & 7;
      absl::string_view s;
      if ((field == 1 || field == 2 || field == 4) && wire == 2) {
        if (!r.Bytes(&s)) return false;
        if (field == 1) f.name = std::string(s);
        if (field == 2) f.help = std::string(s);
        if (field == 4) {
          f.metrics.emplace_back();
          if (!ReadMetric(s, &f.metrics.back())) return false;
        }
      } else if (field == 3 && wire == 0) {
        if (!r.Varint(&f.type)) return false;
      } else if (!r.Skip(wire)) {
        return false;
      }
    }
    out->push_back(std::move(f));
  }
  return true;
}

}  // namespace vitals_fuzz

#endif  // VITALS_TESTS_FUZZ_PROTOBUF_READER_H_
