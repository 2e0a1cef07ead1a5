// The allocator readers of vitals/process.h. Every allocator entry point is resolved with
// dlsym() at run time, so the agent links none of them and works under any of them.

#include <dlfcn.h>
#include <malloc.h>

#include <cstddef>
#include <utility>

#include "absl/strings/str_cat.h"
#include "agent/base/gperftools.h"
#include "vitals/process.h"

namespace vitals {
namespace {

void* Resolve(const char* symbol) { return dlsym(RTLD_DEFAULT, symbol); }

class TcmallocReader : public AllocatorReader {
 public:
  explicit TcmallocReader(internal::TcmallocNumericPropertyFn get) : get_(get) {}

  absl::string_view name() const override { return "tcmalloc"; }

  absl::StatusOr<HeapStats> Read() override {
    HeapStats stats;
    size_t v = 0;
    if (!get_("generic.current_allocated_bytes", &v)) {
      return absl::UnavailableError(
          "tcmalloc did not answer MallocExtension property generic.current_allocated_bytes");
    }
    stats.allocated_bytes = static_cast<double>(v);
    if (get_("generic.heap_size", &v)) stats.reserved_bytes = static_cast<double>(v);
    if (get_("tcmalloc.pageheap_free_bytes", &v)) stats.free_bytes = static_cast<double>(v);
    if (get_("tcmalloc.pageheap_unmapped_bytes", &v)) {
      stats.unmapped_bytes = static_cast<double>(v);
    }
    if (get_("tcmalloc.current_total_thread_cache_bytes", &v)) {
      stats.thread_cache_bytes = static_cast<double>(v);
    }
    return stats;
  }

 private:
  internal::TcmallocNumericPropertyFn get_;
};

// glibc: mallinfo2() sums every arena under each arena's lock. `uordblks` is what the
// application holds in the arenas and `hblkhd` what it holds in chunks mmap()ed one by one
// (large allocations), so their sum is the allocated heap.
class GlibcReader : public AllocatorReader {
 public:
  absl::string_view name() const override { return "glibc"; }

  absl::StatusOr<HeapStats> Read() override {
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 33))
    const struct mallinfo2 mi = mallinfo2();
    HeapStats stats;
    stats.allocated_bytes = static_cast<double>(mi.uordblks) + static_cast<double>(mi.hblkhd);
    stats.reserved_bytes = static_cast<double>(mi.arena) + static_cast<double>(mi.hblkhd);
    stats.free_bytes = static_cast<double>(mi.fordblks);
    return stats;
#else
    return absl::UnimplementedError("this C library has no mallinfo2() (glibc 2.33 or later)");
#endif
  }
};

// AddressSanitizer, ThreadSanitizer and friends replace malloc and answer through
// <sanitizer/allocator_interface.h>.
using SanitizerStatFn = size_t (*)();

class SanitizerReader : public AllocatorReader {
 public:
  SanitizerReader(SanitizerStatFn allocated, SanitizerStatFn heap, SanitizerStatFn free_bytes,
                  SanitizerStatFn unmapped)
      : allocated_(allocated), heap_(heap), free_(free_bytes), unmapped_(unmapped) {}

  absl::string_view name() const override { return "sanitizer"; }

  absl::StatusOr<HeapStats> Read() override {
    HeapStats stats;
    stats.allocated_bytes = static_cast<double>(allocated_());
    if (heap_ != nullptr) stats.reserved_bytes = static_cast<double>(heap_());
    if (free_ != nullptr) stats.free_bytes = static_cast<double>(free_());
    if (unmapped_ != nullptr) stats.unmapped_bytes = static_cast<double>(unmapped_());
    return stats;
  }

 private:
  SanitizerStatFn allocated_, heap_, free_, unmapped_;
};

class UnknownReader : public AllocatorReader {
 public:
  explicit UnknownReader(std::string what) : what_(std::move(what)) {}
  absl::string_view name() const override { return "unknown"; }
  absl::StatusOr<HeapStats> Read() override {
    return absl::UnimplementedError(absl::StrCat("vitals cannot read this process's allocator (",
                                                 what_,
                                                 "); heap figures need tcmalloc or glibc malloc"));
  }

 private:
  std::string what_;
};

// The address `malloc` has in glibc itself, whether or not something interposes it.
void* GlibcMalloc() {
  void* libc = dlopen("libc.so.6", RTLD_LAZY | RTLD_NOLOAD);
  if (libc == nullptr) return nullptr;
  void* m = dlsym(libc, "malloc");
  dlclose(libc);
  return m;
}

}  // namespace

absl::StatusOr<std::shared_ptr<AllocatorReader>> TcmallocAllocatorReader() {
  const internal::TcmallocNumericPropertyFn get = internal::TcmallocNumericProperty();
  if (get == nullptr) return absl::NotFoundError("tcmalloc is not this process's allocator");
  return std::shared_ptr<AllocatorReader>(std::make_shared<TcmallocReader>(get));
}

std::shared_ptr<AllocatorReader> GlibcAllocatorReader() { return std::make_shared<GlibcReader>(); }

std::shared_ptr<AllocatorReader> DetectAllocatorReader() {
  if (auto tc = TcmallocAllocatorReader(); tc.ok()) return *std::move(tc);
  auto sanitizer_allocated =
      reinterpret_cast<SanitizerStatFn>(Resolve("__sanitizer_get_current_allocated_bytes"));
  if (sanitizer_allocated != nullptr) {
    return std::make_shared<SanitizerReader>(
        sanitizer_allocated,
        reinterpret_cast<SanitizerStatFn>(Resolve("__sanitizer_get_heap_size")),
        reinterpret_cast<SanitizerStatFn>(Resolve("__sanitizer_get_free_bytes")),
        reinterpret_cast<SanitizerStatFn>(Resolve("__sanitizer_get_unmapped_bytes")));
  }
  void* glibc_malloc = GlibcMalloc();
  void* malloc_now = Resolve("malloc");
  if (glibc_malloc != nullptr && malloc_now != glibc_malloc) {
    if (Resolve("mallctl") != nullptr) return std::make_shared<UnknownReader>("jemalloc");
    if (Resolve("mi_malloc") != nullptr) return std::make_shared<UnknownReader>("mimalloc");
    return std::make_shared<UnknownReader>("malloc is not glibc's");
  }
  return std::make_shared<GlibcReader>();
}

}  // namespace vitals
