// vitals/process.h: where the process and heap figures come from.
//
// The agent samples `/proc` and the allocator on a background thread (see `Options::
// sample_interval`) and serves `process_*`, `process_heap_bytes` and `vitals_heap_*`. Both
// sources can be replaced: `Options::proc_root` points the `/proc` reader at another tree, and
// `Options::allocator_reader` takes any `AllocatorReader`, so tests control every number.
//
// The default reader finds the allocator the process really runs on, at run time: tcmalloc
// (linked in or LD_PRELOADed) through gperftools' MallocExtension C entry points, a sanitizer's
// allocator, or glibc through mallinfo2(). The agent never links tcmalloc itself, so linking
// the agent does not change the host's allocator.

#ifndef VITALS_PROCESS_H_
#define VITALS_PROCESS_H_

#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "vitals/detail/export.h"

namespace vitals {

// One reading of the allocator, in bytes. What an allocator does not know stays empty and is
// not served.
struct HeapStats {
  // Bytes the application holds allocated right now (`process_heap_bytes`).
  double allocated_bytes = 0;
  // Bytes the allocator has taken from the system, in use or not (`vitals_heap_reserved_bytes`).
  std::optional<double> reserved_bytes;
  // Bytes the allocator holds free and mapped, ready for reuse (`vitals_heap_free_bytes`).
  std::optional<double> free_bytes;
  // Bytes the allocator returned to the system but keeps address space for
  // (`vitals_heap_unmapped_bytes`).
  std::optional<double> unmapped_bytes;
  // Bytes parked in per-thread caches (`vitals_heap_thread_cache_bytes`).
  std::optional<double> thread_cache_bytes;
};

// Reads the allocator's figures.
//
// Thread-safety: `Read` is called from the agent's sampler thread, and from whichever thread
// calls `Agent::SampleProcessNow`, never from two at once.
class VITALS_EXPORT AllocatorReader {
 public:
  virtual ~AllocatorReader() = default;

  // The value of the `allocator` label: "tcmalloc", "glibc", "sanitizer", ...
  virtual absl::string_view name() const = 0;

  // One reading. An error is counted in `vitals_sampler_errors_total{source="heap"}` and the
  // previous figures stay served.
  virtual absl::StatusOr<HeapStats> Read() = 0;
};

// The reader for the allocator this process runs on (see the file comment). Cost of one `Read`
// measured in BENCHMARKS.md: tcmalloc answers from counters in a few microseconds; glibc's
// mallinfo2() locks and walks every arena, tens to hundreds of microseconds with many threads.
// When the process runs on an allocator vitals cannot read (jemalloc, mimalloc), the reader's
// name is "unknown" and `Read` returns Unimplemented saying which allocator it found.
VITALS_EXPORT std::shared_ptr<AllocatorReader> DetectAllocatorReader();

// The glibc reader, whatever the process runs on (for tests and comparisons).
VITALS_EXPORT std::shared_ptr<AllocatorReader> GlibcAllocatorReader();

// The tcmalloc reader, or NotFound when tcmalloc is not this process's allocator.
VITALS_EXPORT absl::StatusOr<std::shared_ptr<AllocatorReader>> TcmallocAllocatorReader();

}  // namespace vitals

#endif  // VITALS_PROCESS_H_
