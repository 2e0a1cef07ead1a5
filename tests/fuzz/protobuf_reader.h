// tests/fuzz/protobuf_reader.h: a reader of the protobuf exposition format (a stream of
// length-delimited io.prometheus.client.MetricFamily messages, tests/support/metrics.proto),
// written apart from the agent's writer on the tests' strict wire reader
// (tests/support/proto_wire.h): every length inside its message, every varint at most 10
// bytes, only the wire types the schema uses. Enough of the schema for a fuzz target to
// compare what the writer wrote with what went in.

#ifndef VITALS_TESTS_FUZZ_PROTOBUF_READER_H_
#define VITALS_TESTS_FUZZ_PROTOBUF_READER_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"
#include "tests/support/proto_wire.h"

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

// Reads one Metric; false on a malformed message.
inline bool ReadMetric(absl::string_view bytes, PbMetric* m) {
  vitals_test::WireReader r(bytes, /*fixed64=*/true);
  uint32_t field, wire, f, w;
  uint64_t value, v;
  absl::string_view sub, b;
  while (r.Next(&field, &wire, &value, &sub)) {
    vitals_test::WireReader in(wire == 2 ? sub : absl::string_view(), /*fixed64=*/true);
    if (field == 1 && wire == 2) {  // LabelPair
      std::pair<std::string, std::string> pair;
      while (in.Next(&f, &w, &v, &b)) {
        if (w != 2) return false;
        (f == 1 ? pair.first : pair.second) = std::string(b);
      }
      m->labels.push_back(std::move(pair));
    } else if ((field == 2 || field == 3) && wire == 2) {  // Gauge, Counter
      while (in.Next(&f, &w, &v, &b)) {
        if (f == 1 && w == 1) {
          m->value = vitals_test::WireDouble(v);
          m->has_value = true;
        }
      }
    } else if (field == 7 && wire == 2) {  // Histogram
      while (in.Next(&f, &w, &v, &b)) {
        if (f == 1 && w == 0) m->count = v;
        if (f == 2 && w == 1) m->sum = vitals_test::WireDouble(v);
        if (f == 3 && w == 2) {  // Bucket
          vitals_test::WireReader br(b, /*fixed64=*/true);
          std::pair<double, uint64_t> bucket{0, 0};
          uint32_t bf, bw;
          uint64_t bv;
          absl::string_view bb;
          while (br.Next(&bf, &bw, &bv, &bb)) {
            if (bf == 1 && bw == 0) bucket.second = bv;
            if (bf == 2 && bw == 1) bucket.first = vitals_test::WireDouble(bv);
          }
          if (!br.ok()) return false;
          m->buckets.push_back(bucket);
        }
      }
    }
    if (!in.ok()) return false;
  }
  return r.ok();
}

// Reads a delimited stream of MetricFamily messages; false on a malformed one.
inline bool ReadExposition(absl::string_view stream, std::vector<PbFamily>* out) {
  vitals_test::WireReader top(stream);
  while (!top.done()) {
    absl::string_view msg;
    if (!top.Bytes(&msg)) return false;
    uint32_t field, wire;
    uint64_t value;
    PbFamily f;
    vitals_test::WireReader r(msg, /*fixed64=*/true);
    absl::string_view s;
    while (r.Next(&field, &wire, &value, &s)) {
      if (field == 1 && wire == 2) f.name = std::string(s);
      if (field == 2 && wire == 2) f.help = std::string(s);
      if (field == 3 && wire == 0) f.type = value;
      if (field == 4 && wire == 2) {
        f.metrics.emplace_back();
        if (!ReadMetric(s, &f.metrics.back())) return false;
      }
    }
    if (!r.ok()) return false;
    out->push_back(std::move(f));
  }
  return true;
}

}  // namespace vitals_fuzz

#endif  // VITALS_TESTS_FUZZ_PROTOBUF_READER_H_
