#include "agent/profiling/pprof_proto.h"

#include <cmath>
#include <cstring>
#include <limits>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "agent/base/gzip.h"
#include "agent/base/proto_writer.h"
#include "agent/profiling/function_names.h"

namespace vitals {
namespace internal {
namespace {

// profile.proto field numbers (perftools.profiles).
enum ProfileField : uint32_t {
  kSampleType = 1,
  kSample = 2,
  kMapping = 3,
  kLocation = 4,
  kFunction = 5,
  kStringTable = 6,
  kDropFrames = 7,
  kTimeNanos = 9,
  kDurationNanos = 10,
  kPeriodType = 11,
  kPeriod = 12,
  kComment = 13,
  kDefaultSampleType = 14,
};

class StringTable {
 public:
  StringTable() { Index(""); }  // string_table[0] is always ""
  int64_t Index(absl::string_view s) {
    auto [it, fresh] = index_.try_emplace(std::string(s), static_cast<int64_t>(strings_.size()));
    if (fresh) strings_.emplace_back(s);
    return it->second;
  }
  const std::vector<std::string>& strings() const { return strings_; }

 private:
  absl::flat_hash_map<std::string, int64_t> index_;
  std::vector<std::string> strings_;
};

// The frames Go's pprof drops from gperftools' profiles (google/pprof, legacy_profile.go:
// cpuProfilerRxStr and allocRxStr), so its reports start at the code that used the CPU or
// asked for the memory.
constexpr char kCpuProfilerFrames[] =
    "ProfileData::Add|ProfileData::prof_handler|CpuProfiler::prof_handler|__pthread_sighandler|"
    "__restore_rt";
constexpr char kAllocatorFrames[] =
    "calloc|cfree|malloc|free|memalign|do_memalign|(__)?posix_memalign|pvalloc|valloc|realloc|"
    "tcmalloc::.*|tc_calloc|tc_cfree|tc_malloc|tc_free|tc_memalign|tc_posix_memalign|tc_pvalloc|"
    "tc_valloc|tc_realloc|tc_new|tc_delete|tc_newarray|tc_deletearray|tc_new_nothrow|"
    "tc_newarray_nothrow|malloc_zone_malloc|malloc_zone_calloc|malloc_zone_valloc|"
    "malloc_zone_realloc|malloc_zone_memalign|malloc_zone_free|runtime\\..*|BaseArena::.*|"
    "(::)?do_malloc_no_errno|(::)?do_malloc_pages|(::)?do_malloc|DoSampledAllocation|"
    "MallocedMemBlock::MallocedMemBlock|_M_allocate|__builtin_(vec_)?delete|"
    "__builtin_(vec_)?new|__gnu_cxx::new_allocator::allocate|__libc_malloc|"
    "__malloc_alloc_template::allocate|allocate|cpp_alloc|operator new(\\[\\])?|"
    "simple_alloc::allocate";

// Counts and bytes of a heap sample at or past this do not fit an int64 sample value.
constexpr double kMaxCount = 9.2e18;

uint64_t ReadWord(absl::string_view bytes, size_t i) {
  uint64_t w;
  std::memcpy(&w, bytes.data() + i * sizeof w, sizeof w);
  return w;
}

}  // namespace

absl::StatusOr<ProfileData> ParseLegacyCpuProfile(absl::string_view bytes) {
  // Header: 0, 3 (header words), 0 (version), sampling period in microseconds, 0 (padding).
  // Records: count, depth, pc[depth]. Trailer: 0, 1, 0. Then the text of /proc/self/maps.
  const size_t words = bytes.size() / sizeof(uint64_t);
  if (words < 5 || ReadWord(bytes, 0) != 0 || ReadWord(bytes, 1) != 3 || ReadWord(bytes, 2) != 0) {
    return absl::InvalidArgumentError("not a gperftools CPU profile");
  }
  const int64_t period_us = static_cast<int64_t>(ReadWord(bytes, 3));
  if (period_us <= 0) return absl::InvalidArgumentError("CPU profile without a sampling period");
  // At most one sample a second (gperftools samples 1 to 4,000 times a second); larger periods
  // are garbage, and would overflow in nanoseconds (tests/fuzz/regressions/legacy_profile).
  if (period_us > 1'000'000) {
    return absl::InvalidArgumentError("CPU profile with an implausible sampling period");
  }
  ProfileData data;
  data.sample_types = {{"samples", "count"}, {"cpu", "nanoseconds"}};
  data.period_type = {"cpu", "nanoseconds"};
  data.period = period_us * 1000;
  data.default_sample_type = "cpu";
  data.drop_frames = kCpuProfilerFrames;
  for (size_t i = 5; i + 2 <= words;) {
    const uint64_t count = ReadWord(bytes, i);
    const uint64_t depth = ReadWord(bytes, i + 1);
    if (count == 0 && depth == 1 && i + 2 < words && ReadWord(bytes, i + 2) == 0) break;  // end
    if (depth > words - i - 2) return absl::InvalidArgumentError("CPU profile cut short");
    ProfileSample sample;
    sample.pcs.reserve(depth);
    for (uint64_t d = 0; d < depth; ++d) {
      const uint64_t pc = ReadWord(bytes, i + 2 + d);
      sample.pcs.push_back(d == 0 || pc == 0 ? pc : pc - 1);  // callers: into the call
    }
    if (count > static_cast<uint64_t>(std::numeric_limits<int64_t>::max() / data.period)) {
      return absl::InvalidArgumentError("CPU profile with an implausible sample count");
    }
    sample.values = {static_cast<int64_t>(count), static_cast<int64_t>(count) * data.period};
    data.samples.push_back(std::move(sample));
    i += 2 + depth;
  }
  return data;
}

absl::StatusOr<ProfileData> ParseLegacyHeapProfile(absl::string_view text) {
  std::vector<absl::string_view> lines = absl::StrSplit(text, '\n');
  if (lines.empty() || !absl::StartsWith(lines[0], "heap profile:")) {
    return absl::InvalidArgumentError("not a heap profile");
  }
  ProfileData data;
  data.drop_frames = kAllocatorFrames;
  double rate = 0;
  const size_t at = lines[0].find('@');
  const absl::string_view kind =
      at == absl::string_view::npos ? "" : absl::StripAsciiWhitespace(lines[0].substr(at + 1));
  if (absl::StartsWith(kind, "heap_v2/")) {
    if (!absl::SimpleAtod(kind.substr(8), &rate)) rate = 0;
    if (!(rate >= 0 && rate < kMaxCount)) {
      return absl::InvalidArgumentError("heap profile with an implausible sampling rate");
    }
    data.sample_types = {{"inuse_objects", "count"}, {"inuse_space", "bytes"}};
    data.period_type = {"space", "bytes"};
    data.period = static_cast<int64_t>(rate);
    data.default_sample_type = "inuse_space";
  } else if (kind == "growth") {
    data.sample_types = {{"objects", "count"}, {"space", "bytes"}};
    data.period_type = {"space", "bytes"};
    data.period = 1;
    data.default_sample_type = "space";
    data.comments.push_back("tcmalloc heap growth: the stacks where the heap grew");
  } else {
    return absl::InvalidArgumentError(absl::StrCat("unknown heap profile kind \"", kind, "\""));
  }
  for (size_t i = 1; i < lines.size(); ++i) {
    absl::string_view line = absl::StripAsciiWhitespace(lines[i]);
    if (line.empty()) continue;
    if (absl::StartsWith(line, "MAPPED_LIBRARIES")) break;
    // "count: bytes [count: bytes] @ 0xA 0xB ..."
    const size_t stack_at = line.find('@');
    if (stack_at == absl::string_view::npos) continue;
    std::vector<absl::string_view> head =
        absl::StrSplit(line.substr(0, stack_at), absl::ByAnyChar(" :[]"), absl::SkipEmpty());
    double count, bytes;
    if (head.size() < 2 || !absl::SimpleAtod(head[0], &count) ||
        !absl::SimpleAtod(head[1], &bytes)) {
      return absl::InvalidArgumentError(
          absl::StrCat("bad heap profile line: ", line.substr(0, 80)));
    }
    if (count == 0 || bytes == 0) {
      count = bytes = 0;
    } else if (rate > 1) {  // as Go's pprof scales heap_v2 samples (truncating, like it)
      const double scale = 1 / (1 - std::exp(-(bytes / count) / rate));
      count *= scale;
      bytes *= scale;
    }
    // Negative, NaN or past int64 (after scaling too) is not a heap profile
    // (tests/fuzz/regressions/legacy_profile).
    if (!(count >= 0 && count < kMaxCount && bytes >= 0 && bytes < kMaxCount)) {
      return absl::InvalidArgumentError(
          absl::StrCat("implausible heap profile line: ", line.substr(0, 80)));
    }
    ProfileSample sample;
    for (absl::string_view a : absl::StrSplit(line.substr(stack_at + 1), ' ', absl::SkipEmpty())) {
      uint64_t pc;
      if (!absl::ConsumePrefix(&a, "0x") || !absl::SimpleHexAtoi(a, &pc)) continue;
      sample.pcs.push_back(pc == 0 ? 0 : pc - 1);  // every frame is a return address
    }
    sample.values = {static_cast<int64_t>(count), static_cast<int64_t>(bytes)};
    data.samples.push_back(std::move(sample));
  }
  return data;
}

std::string EncodeProfile(const ProfileData& data, const ElfSymbols& symbols, LineInfo* lines) {
  StringTable strings;
  ProtoWriter out, msg, sub;
  auto value_type = [&](uint32_t field, const std::pair<std::string, std::string>& vt) {
    msg.Clear();
    msg.Int64(1, strings.Index(vt.first));
    msg.Int64(2, strings.Index(vt.second));
    out.Message(field, msg);
  };
  for (const auto& vt : data.sample_types) value_type(kSampleType, vt);

  // Locations (one per address), each with its lines (inlined calls first), and their functions
  // (one per name and file).
  struct Loc {
    uint64_t id = 0;
    uint64_t mapping_id = 0;
    std::vector<std::pair<uint64_t, int64_t>> lines;  // (function id, line)
  };
  absl::flat_hash_map<uint64_t, Loc> locations;
  std::vector<uint64_t> location_order;
  absl::flat_hash_map<std::pair<std::string, std::string>, uint64_t> functions;
  std::vector<std::pair<std::string, std::string>> function_order;  // (mangled name, file)
  auto function_id = [&](std::string name, std::string file) {
    auto [it, fresh] = functions.try_emplace(std::make_pair(name, file));
    if (fresh) {
      it->second = functions.size();
      function_order.emplace_back(std::move(name), std::move(file));
    }
    return it->second;
  };
  std::vector<bool> mapping_has_lines(symbols.mappings().size(), false);
  std::vector<LineInfo::Frame> frames;
  std::vector<uint64_t> ids;
  for (const ProfileSample& s : data.samples) {
    msg.Clear();
    ids.clear();
    for (uint64_t pc : s.pcs) {
      auto [it, fresh] = locations.try_emplace(pc);
      if (fresh) {
        Loc& loc = it->second;
        loc.id = locations.size();
        location_order.push_back(pc);
        const ElfSymbols::Mapping* m = symbols.MappingOf(pc);
        loc.mapping_id =
            m == nullptr ? 0 : static_cast<uint64_t>(m - symbols.mappings().data()) + 1;
        const absl::string_view symbol = symbols.Lookup(pc);
        if (lines != nullptr && lines->Lookup(pc, &frames)) {
          if (loc.mapping_id != 0) mapping_has_lines[loc.mapping_id - 1] = true;
          // The outermost frame is the symbol's function: the symbol table names it (a clone's
          // ".cold" part included), DWARF only when the table has no name for it.
          if (!symbol.empty()) frames.back().function = std::string(symbol);
          for (LineInfo::Frame& f : frames) {
            if (f.function.empty()) continue;
            loc.lines.emplace_back(function_id(std::move(f.function), std::move(f.file)), f.line);
          }
        } else if (!symbol.empty()) {
          loc.lines.emplace_back(function_id(std::string(symbol), ""), 0);
        }
      }
      ids.push_back(it->second.id);
    }
    msg.Packed(1, ids);
    msg.Packed(2, s.values);
    for (const auto& [key, value] : s.labels) {
      sub.Clear();
      sub.Int64(1, strings.Index(key));
      sub.Int64(2, strings.Index(value));
      msg.Message(3, sub);
    }
    out.Message(kSample, msg);
  }

  for (size_t i = 0; i < symbols.mappings().size(); ++i) {
    const ElfSymbols::Mapping& m = symbols.mappings()[i];
    msg.Clear();
    msg.Varint(1, i + 1);
    msg.Varint(2, m.start);
    msg.Varint(3, m.end);
    msg.Varint(4, m.offset);
    msg.Int64(5, strings.Index(m.path));
    msg.Int64(6, strings.Index(m.build_id));
    msg.Varint(7, m.named_any ? 1 : 0);
    msg.Varint(8, mapping_has_lines[i] ? 1 : 0);
    msg.Varint(9, mapping_has_lines[i] ? 1 : 0);
    msg.Varint(10, mapping_has_lines[i] ? 1 : 0);  // has_inline_frames: DWARF's were expanded
    out.Message(kMapping, msg);
  }
  for (uint64_t pc : location_order) {
    const Loc& loc = locations[pc];
    msg.Clear();
    msg.Varint(1, loc.id);
    if (loc.mapping_id != 0) msg.Varint(2, loc.mapping_id);
    msg.Varint(3, pc);
    for (const auto& [function, line] : loc.lines) {
      sub.Clear();
      sub.Varint(1, function);
      if (line != 0) sub.Int64(2, line);
      msg.Message(4, sub);
    }
    out.Message(kLocation, msg);
  }
  for (size_t i = 0; i < function_order.size(); ++i) {
    const auto& [mangled, source] = function_order[i];
    msg.Clear();
    msg.Varint(1, i + 1);
    msg.Int64(2, strings.Index(ShortFunctionName(Demangle(mangled))));
    msg.Int64(3, strings.Index(mangled));
    if (!source.empty()) msg.Int64(4, strings.Index(source));
    out.Message(kFunction, msg);
  }
  // Everything that indexes the string table is written above, so the table is complete.
  const int64_t period_type_type = strings.Index(data.period_type.first);
  const int64_t period_type_unit = strings.Index(data.period_type.second);
  const int64_t default_type = strings.Index(data.default_sample_type);
  const int64_t drop_frames = data.drop_frames.empty() ? 0 : strings.Index(data.drop_frames);
  std::vector<int64_t> comments;
  for (const std::string& c : data.comments) comments.push_back(strings.Index(c));
  for (const std::string& s : strings.strings()) out.Bytes(kStringTable, s);
  if (drop_frames != 0) out.Int64(kDropFrames, drop_frames);
  if (data.time_nanos != 0) out.Int64(kTimeNanos, data.time_nanos);
  if (data.duration_nanos != 0) out.Int64(kDurationNanos, data.duration_nanos);
  msg.Clear();
  msg.Int64(1, period_type_type);
  msg.Int64(2, period_type_unit);
  out.Message(kPeriodType, msg);
  out.Int64(kPeriod, data.period);
  out.Packed(kComment, comments);
  if (!data.default_sample_type.empty()) out.Int64(kDefaultSampleType, default_type);
  return out.Take();
}

namespace {

absl::StatusOr<std::string> Finish(absl::StatusOr<ProfileData> data) {
  if (!data.ok()) return data.status();
  return ProfileToPprof(*data);
}

}  // namespace

absl::StatusOr<std::string> ProfileToPprof(const ProfileData& data) {
  auto symbols = ElfSymbols::ForThisProcess();
  if (!symbols.ok()) return symbols.status();
  std::unique_ptr<LineInfo> lines = LineInfo::ForThisProcess();
  const std::string proto = EncodeProfile(data, **symbols, lines.get());
  std::string gz;
  if (!GzipCompress(proto, gz, 6)) return absl::InternalError("cannot gzip the profile");
  return gz;
}

absl::StatusOr<std::string> CpuProfileToPprof(absl::string_view legacy, int64_t time_nanos,
                                              int64_t duration_nanos) {
  auto data = ParseLegacyCpuProfile(legacy);
  if (data.ok()) {
    data->time_nanos = time_nanos;
    data->duration_nanos = duration_nanos;
  }
  return Finish(std::move(data));
}

absl::StatusOr<std::string> HeapProfileToPprof(absl::string_view legacy, int64_t time_nanos) {
  auto data = ParseLegacyHeapProfile(legacy);
  if (data.ok()) data->time_nanos = time_nanos;
  return Finish(std::move(data));
}

}  // namespace internal
}  // namespace vitals
