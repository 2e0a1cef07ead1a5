// A reader of profile.proto (perftools.profiles) for tests: enough of the wire format to check
// what the agent writes, field by field. The real parsers (`go tool pprof`, `protoc
// --decode_raw`) check the same bytes in the integration tests.

#ifndef VITALS_TESTS_SUPPORT_PROFILE_DECODER_H_
#define VITALS_TESTS_SUPPORT_PROFILE_DECODER_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"
#include "tests/support/proto_wire.h"

namespace vitals_test {

struct DecodedProfile {
  struct Sample {
    std::vector<uint64_t> location_ids;
    std::vector<int64_t> values;
  };
  struct Mapping {
    uint64_t id = 0, start = 0, limit = 0, offset = 0;
    std::string filename, build_id;
    bool has_functions = false, has_filenames = false, has_line_numbers = false,
         has_inline_frames = false;
  };
  struct Line {
    uint64_t function_id = 0;
    int64_t line = 0;
  };
  struct Location {
    uint64_t id = 0, mapping_id = 0, address = 0;
    std::vector<Line> lines;
  };
  struct Function {
    uint64_t id = 0;
    std::string name, system_name, filename;
  };
  std::vector<std::pair<std::string, std::string>> sample_types;
  std::vector<Sample> samples;
  std::vector<Mapping> mappings;
  std::map<uint64_t, Location> locations;
  std::map<uint64_t, Function> functions;
  std::vector<std::string> strings;
  std::string drop_frames;
  int64_t time_nanos = 0, duration_nanos = 0, period = 0;
  std::pair<std::string, std::string> period_type;
  std::vector<std::string> comments;
  std::string default_sample_type;

  // The function names of a sample's frames, leaf first (inlined calls included).
  std::vector<std::string> Frames(const Sample& s) const {
    std::vector<std::string> out;
    for (uint64_t id : s.location_ids) {
      auto loc = locations.find(id);
      if (loc == locations.end()) continue;
      for (const Line& l : loc->second.lines) {
        auto fn = functions.find(l.function_id);
        if (fn != functions.end()) out.push_back(fn->second.name);
      }
    }
    return out;
  }
  // The sum of sample value `index` over the samples with a frame named `name` (substring).
  int64_t ValueWith(const std::string& name, size_t index) const {
    int64_t total = 0;
    for (const Sample& s : samples) {
      for (const std::string& f : Frames(s)) {
        if (f.find(name) != std::string::npos) {
          total += s.values.at(index);
          break;
        }
      }
    }
    return total;
  }
};

namespace profile_decoder_internal {

using Reader = WireReader;  // the profile uses no fixed-width fields

// A repeated varint field, packed (wire type 2) or not (0).
template <typename Int>
inline void AppendRepeated(uint32_t wire, uint64_t value, absl::string_view bytes,
                           std::vector<Int>* out) {
  if (wire == 0) {
    out->push_back(static_cast<Int>(value));
    return;
  }
  Reader r(bytes);
  while (!r.done() && r.ok()) out->push_back(static_cast<Int>(r.Varint()));
}

}  // namespace profile_decoder_internal

// The profile in `proto` (not gzipped); nullopt when the bytes are not a well-formed message.
inline std::optional<DecodedProfile> DecodeProfile(absl::string_view proto) {
  using profile_decoder_internal::AppendRepeated;
  using profile_decoder_internal::Reader;
  DecodedProfile p;
  std::vector<std::pair<int64_t, int64_t>> sample_type_ix;
  int64_t drop_ix = 0, default_ix = 0;
  std::pair<int64_t, int64_t> period_ix{0, 0};
  std::vector<int64_t> comment_ix;
  struct RawMapping {
    DecodedProfile::Mapping m;
    int64_t filename = 0, build_id = 0;
  };
  std::vector<RawMapping> mappings;
  struct RawFunction {
    uint64_t id = 0;
    int64_t name = 0, system_name = 0, filename = 0;
  };
  std::vector<RawFunction> functions;

  Reader r(proto);
  uint32_t field, wire;
  uint64_t value = 0;
  absl::string_view bytes;
  while (r.Next(&field, &wire, &value, &bytes)) {
    Reader sub(bytes);
    uint32_t f, w;
    uint64_t v = 0;
    absl::string_view b;
    switch (field) {
      case 1: {  // sample_type
        std::pair<int64_t, int64_t> vt{0, 0};
        while (sub.Next(&f, &w, &v, &b)) (f == 1 ? vt.first : vt.second) = static_cast<int64_t>(v);
        sample_type_ix.push_back(vt);
        break;
      }
      case 2: {  // sample
        DecodedProfile::Sample s;
        while (sub.Next(&f, &w, &v, &b)) {
          if (f == 1) AppendRepeated(w, v, b, &s.location_ids);
          if (f == 2) AppendRepeated(w, v, b, &s.values);
        }
        p.samples.push_back(std::move(s));
        break;
      }
      case 3: {  // mapping
        RawMapping m;
        while (sub.Next(&f, &w, &v, &b)) {
          switch (f) {
            case 1:
              m.m.id = v;
              break;
            case 2:
              m.m.start = v;
              break;
            case 3:
              m.m.limit = v;
              break;
            case 4:
              m.m.offset = v;
              break;
            case 5:
              m.filename = static_cast<int64_t>(v);
              break;
            case 6:
              m.build_id = static_cast<int64_t>(v);
              break;
            case 7:
              m.m.has_functions = v != 0;
              break;
            case 8:
              m.m.has_filenames = v != 0;
              break;
            case 9:
              m.m.has_line_numbers = v != 0;
              break;
            case 10:
              m.m.has_inline_frames = v != 0;
              break;
          }
        }
        mappings.push_back(std::move(m));
        break;
      }
      case 4: {  // location
        DecodedProfile::Location loc;
        while (sub.Next(&f, &w, &v, &b)) {
          if (f == 1) loc.id = v;
          if (f == 2) loc.mapping_id = v;
          if (f == 3) loc.address = v;
          if (f == 4) {
            DecodedProfile::Line line;
            Reader lr(b);
            uint32_t lf, lw;
            uint64_t lv = 0;
            absl::string_view lb;
            while (lr.Next(&lf, &lw, &lv, &lb)) {
              if (lf == 1) line.function_id = lv;
              if (lf == 2) line.line = static_cast<int64_t>(lv);
            }
            loc.lines.push_back(line);
          }
        }
        p.locations[loc.id] = std::move(loc);
        break;
      }
      case 5: {  // function
        RawFunction fn;
        while (sub.Next(&f, &w, &v, &b)) {
          if (f == 1) fn.id = v;
          if (f == 2) fn.name = static_cast<int64_t>(v);
          if (f == 3) fn.system_name = static_cast<int64_t>(v);
          if (f == 4) fn.filename = static_cast<int64_t>(v);
        }
        functions.push_back(fn);
        break;
      }
      case 6:
        p.strings.emplace_back(bytes);
        break;
      case 7:
        drop_ix = static_cast<int64_t>(value);
        break;
      case 9:
        p.time_nanos = static_cast<int64_t>(value);
        break;
      case 10:
        p.duration_nanos = static_cast<int64_t>(value);
        break;
      case 11: {
        while (sub.Next(&f, &w, &v, &b)) {
          (f == 1 ? period_ix.first : period_ix.second) = static_cast<int64_t>(v);
        }
        break;
      }
      case 12:
        p.period = static_cast<int64_t>(value);
        break;
      case 13:
        AppendRepeated(wire, value, bytes, &comment_ix);
        break;
      case 14:
        default_ix = static_cast<int64_t>(value);
        break;
      default:
        break;
    }
  }
  if (!r.ok()) return std::nullopt;
  auto str = [&p](int64_t i) -> std::string {
    return i >= 0 && static_cast<size_t>(i) < p.strings.size() ? p.strings[i] : "<bad index>";
  };
  for (auto [t, u] : sample_type_ix) p.sample_types.emplace_back(str(t), str(u));
  for (RawMapping& m : mappings) {
    m.m.filename = str(m.filename);
    m.m.build_id = str(m.build_id);
    p.mappings.push_back(m.m);
  }
  for (const RawFunction& fn : functions) {
    p.functions[fn.id] =
        DecodedProfile::Function{fn.id, str(fn.name), str(fn.system_name), str(fn.filename)};
  }
  p.drop_frames = str(drop_ix);
  p.default_sample_type = str(default_ix);
  p.period_type = {str(period_ix.first), str(period_ix.second)};
  for (int64_t c : comment_ix) p.comments.push_back(str(c));
  return p;
}

}  // namespace vitals_test

#endif  // VITALS_TESTS_SUPPORT_PROFILE_DECODER_H_
