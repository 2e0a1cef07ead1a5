#include "agent/process/process_sampler.h"

#include <unistd.h>

#include <chrono>
#include <exception>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "agent/core/family_spec.h"

namespace vitals {
namespace internal {
namespace {

constexpr size_t kMaxTrendSamples = 4096;

void Set(Family* family, double value) { Family::SetValue(family->Find({}), value); }

void SetLabelled(Family* family, absl::string_view label, double value) {
  Family::SetValue(family->Find(absl::MakeConstSpan(&label, 1)), value);
}

}  // namespace

ProcessSampler::Sources ProcessSampler::DefaultSources(const Options& options, const Clock* clock) {
  Sources s;
  s.proc_root = options.proc_root;
  if (options.heap_metrics) {
    s.allocator = options.allocator_reader ? options.allocator_reader : DetectAllocatorReader();
  }
  s.clock = clock;
  const long ticks = sysconf(_SC_CLK_TCK);
  const long page = sysconf(_SC_PAGESIZE);
  if (ticks > 0) s.ticks_per_second = ticks;
  if (page > 0) s.page_size = page;
  return s;
}

absl::StatusOr<std::unique_ptr<ProcessSampler>> ProcessSampler::Create(Registry& registry,
                                                                       const Options& options,
                                                                       Sources sources,
                                                                       RateLimitedLog* log) {
  std::unique_ptr<ProcessSampler> sampler(new ProcessSampler(options, std::move(sources), log));
  if (absl::Status s = sampler->CreateFamilies(registry); !s.ok()) return s;
  return sampler;
}

ProcessSampler::ProcessSampler(const Options& options, Sources sources, RateLimitedLog* log)
    : sources_(std::move(sources)),
      procfs_(sources_.proc_root, sources_.pid),
      interval_(options.sample_interval),
      memory_log_nanos_(absl::ToInt64Nanoseconds(options.memory_log_interval)),
      log_(log),
      failure_log_(log, sources_.clock, absl::Minutes(1)),
      trend_(absl::ToInt64Nanoseconds(options.heap_growth_window), kMaxTrendSamples) {}

ProcessSampler::~ProcessSampler() { Stop(); }

absl::Status ProcessSampler::CreateFamilies(Registry& registry) {
  Family* errors = nullptr;
  // client_golang's process collector names and help texts, so existing dashboards work.
  absl::Status s = internal::CreateFamilies(
      registry,
      {
          {&cpu_, "process_cpu_seconds_total", "Total user and system CPU time spent in seconds.",
           MetricType::kCounter},
          {&open_fds_, "process_open_fds", "Number of open file descriptors."},
          {&max_fds_, "process_max_fds", "Maximum number of open file descriptors."},
          {&vsize_, "process_virtual_memory_bytes", "Virtual memory size in bytes."},
          {&vsize_max_, "process_virtual_memory_max_bytes",
           "Maximum amount of virtual memory available in bytes."},
          {&rss_, "process_resident_memory_bytes", "Resident memory size in bytes."},
          {&start_time_, "process_start_time_seconds",
           "Start time of the process since unix epoch in seconds."},
          {&threads_, "process_threads", "Number of OS threads in the process."},
          {&heap_, "process_heap_bytes",
           "Bytes the application holds allocated on the heap right now, as its allocator "
           "reports them."},
          {&heap_reserved_,
           "vitals_heap_reserved_bytes",
           "Bytes the allocator has taken from the system, allocated or free.",
           MetricType::kGauge,
           {"allocator"}},
          {&heap_free_,
           "vitals_heap_free_bytes",
           "Bytes the allocator holds free and mapped, ready to be reused.",
           MetricType::kGauge,
           {"allocator"}},
          {&heap_unmapped_,
           "vitals_heap_unmapped_bytes",
           "Bytes the allocator has released to the system but keeps address space for.",
           MetricType::kGauge,
           {"allocator"}},
          {&heap_thread_cache_,
           "vitals_heap_thread_cache_bytes",
           "Bytes held in the allocator's per-thread caches.",
           MetricType::kGauge,
           {"allocator"}},
          {&heap_growth_, "vitals_heap_growth_bytes_per_second",
           "Trend of process_heap_bytes: least-squares slope over the recent samples. A steady "
           "positive value suggests a leak; a workload that allocates and frees stays near "
           "zero."},
          {&duration_, "vitals_sampler_duration_seconds",
           "How long the last sample of /proc and the allocator took."},
          {&errors,
           "vitals_sampler_errors_total",
           "Process and heap samples that failed, by source (proc_stat, proc_limits, proc_fd, "
           "proc_boot_time, heap). The failed figure keeps its last value.",
           MetricType::kCounter,
           {"source"}},
      });
  if (!s.ok()) return s;
  for (int i = 0; i < kNumSources; ++i) {
    absl::string_view name = kSourceNames[i];
    errors_[i] = errors->Find(absl::MakeConstSpan(&name, 1));  // served as 0 from the start
  }
  return absl::OkStatus();
}

void ProcessSampler::Failed(Source source, const absl::Status& status, absl::Status& first) {
  Family::SetValue(errors_[source], ++error_counts_[source]);
  if (first.ok()) first = status;
  failure_log_.Log(kSourceNames[source], LogSeverity::kWarning,
                   absl::StrCat("process sampler could not read ", kSourceNames[source], ": ",
                                status.message()));
}

template <typename T>
std::optional<T> ProcessSampler::Parsed(Source source, const absl::StatusOr<std::string>& text,
                                        absl::StatusOr<T> (*parse)(absl::string_view),
                                        absl::Status& first) {
  if (!text.ok()) {
    Failed(source, text.status(), first);
    return std::nullopt;
  }
  absl::StatusOr<T> value = parse(*text);
  if (!value.ok()) {
    Failed(source, value.status(), first);
    return std::nullopt;
  }
  return *std::move(value);
}

absl::Status ProcessSampler::SampleOnce() {
  internal::MutexLock lock(&sample_mu_);
  absl::Status first;
  const Clock& clock = *sources_.clock;
  const int64_t started = clock.NowNanos();
  const double ticks = static_cast<double>(sources_.ticks_per_second);

  const std::optional<ProcStat> stat =
      Parsed(kProcStat, procfs_.ReadProcessFile("stat"), ParseProcStat, first);
  if (stat.has_value()) {
    Set(cpu_, static_cast<double>(stat->utime_ticks + stat->stime_ticks) / ticks);
    Set(vsize_, static_cast<double>(stat->vsize_bytes));
    last_rss_ = static_cast<double>(stat->rss_pages) * static_cast<double>(sources_.page_size);
    Set(rss_, last_rss_);
    Set(threads_, static_cast<double>(stat->num_threads));
  }

  if (!boot_time_.has_value()) {  // boot time never changes: read it until it is known
    boot_time_ = Parsed(kBootTime, procfs_.ReadFile("stat"), ParseBootTime, first);
  }
  if (boot_time_.has_value() && stat.has_value()) {
    Set(start_time_,
        static_cast<double>(*boot_time_) + static_cast<double>(stat->start_ticks) / ticks);
  }

  if (auto limits = Parsed(kProcLimits, procfs_.ReadProcessFile("limits"), ParseProcLimits, first);
      limits.has_value()) {
    Set(max_fds_, limits->max_open_files);
    Set(vsize_max_, limits->max_address_space);
  }

  if (auto fds = procfs_.CountOpenFds(); !fds.ok()) {
    Failed(kProcFd, fds.status(), first);
  } else {
    Set(open_fds_, static_cast<double>(*fds));
  }

  const int64_t now = clock.NowNanos();
  if (sources_.allocator != nullptr) SampleHeap(now, first);
  Set(duration_, static_cast<double>(clock.NowNanos() - started) * 1e-9);
  if (memory_log_nanos_ > 0) LogMemory(now);
  return first;
}

void ProcessSampler::SampleHeap(int64_t now, absl::Status& first) {
  absl::StatusOr<HeapStats> heap = absl::UnknownError("allocator reader threw an exception");
  try {
    heap = sources_.allocator->Read();
  } catch (...) {  // a user-supplied reader must not take the sampler down
  }
  if (!heap.ok()) {
    Failed(kHeap, heap.status(), first);
  } else {
    const absl::string_view allocator = sources_.allocator->name();
    Set(heap_, heap->allocated_bytes);
    auto set_optional = [&](Family* family, const std::optional<double>& value) {
      if (value.has_value()) SetLabelled(family, allocator, *value);
    };
    set_optional(heap_reserved_, heap->reserved_bytes);
    set_optional(heap_free_, heap->free_bytes);
    set_optional(heap_unmapped_, heap->unmapped_bytes);
    set_optional(heap_thread_cache_, heap->thread_cache_bytes);
    trend_.Add(now, heap->allocated_bytes);
    if (auto slope = trend_.SlopePerSecond(); slope.has_value()) Set(heap_growth_, *slope);
    last_heap_ = *heap;
  }
}

void ProcessSampler::LogMemory(int64_t now) {
  if (last_memory_log_.has_value() && now - *last_memory_log_ < memory_log_nanos_) return;
  last_memory_log_ = now;
  constexpr double kMB = 1024.0 * 1024.0;
  std::string line = "vitals memory:";
  if (last_rss_ >= 0) absl::StrAppendFormat(&line, " rss %.1f MB,", last_rss_ / kMB);
  if (last_heap_.has_value()) {
    absl::StrAppendFormat(&line, " heap %.1f MB", last_heap_->allocated_bytes / kMB);
    if (last_heap_->reserved_bytes.has_value()) {
      absl::StrAppendFormat(&line, " (reserved %.1f MB)", *last_heap_->reserved_bytes / kMB);
    }
    absl::StrAppend(&line, " ", sources_.allocator->name());
  } else {
    absl::StrAppend(&line, " heap unknown");
  }
  if (auto slope = trend_.SlopePerSecond(); slope.has_value()) {
    absl::StrAppendFormat(&line, ", heap trend %+.2f MB/min", *slope * 60 / kMB);
  }
  log_->Log(LogSeverity::kInfo, line);
}

absl::Status ProcessSampler::Start() {
  SampleOnce().IgnoreError();  // failures are counted and logged; the first scrape has figures
  absl::Status s = thread_.Start(interval_, [this] {
    try {
      SampleOnce().IgnoreError();
    } catch (const std::exception& e) {  // bad_alloc: skip this sample, keep the host alive
      log_->Log(LogSeverity::kError, absl::StrCat("process sample failed: ", e.what()));
    }
  });
  if (s.ok()) return s;
  if (absl::IsFailedPrecondition(s)) {
    return absl::FailedPreconditionError("the sampler is already running");
  }
  return absl::ResourceExhaustedError(
      absl::StrCat("cannot start the process sampler: ", s.message()));
}

void ProcessSampler::Stop() { thread_.Stop(); }

}  // namespace internal
}  // namespace vitals
