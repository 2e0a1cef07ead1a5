#include "agent/cell_store.h"

#include <cstdlib>
#include <new>

namespace vitals {
namespace internal {

thread_local Arena* tls_arena = nullptr;

namespace {

// Set once this thread's arena has been retired. Records made later in the thread's exit (from
// other thread_local destructors) go to a fresh arena that stays registered for good.
thread_local bool tls_exited = false;

Arena* NewArena() {
  // calloc: 64 KiB of null chunk pointers, zero pages until touched.
  void* p = std::calloc(1, sizeof(Arena));
  if (p == nullptr) return nullptr;
  return new (p) Arena;  // atomics of pointers, zero-initialized by calloc
}

void DeleteArena(Arena* arena) {
  for (uint64_t c = 0; c < kMaxChunks; ++c) {
    std::free(arena->chunks[c].load(std::memory_order_relaxed));
  }
  arena->~Arena();
  std::free(arena);
}

struct ArenaOwner {
  Arena* arena = nullptr;
  ~ArenaOwner() {
    if (arena == nullptr) return;
    tls_arena = nullptr;
    tls_exited = true;
    CellStore::Get().RetireArena(arena);
  }
};

thread_local ArenaOwner tls_owner;

}  // namespace

CellStore& CellStore::Get() {
  static CellStore* store = [] {
    auto* s = new CellStore;
    internal::MutexLock lock(&s->mu_);
    s->retired_ = NewArena();
    return s;
  }();
  return *store;
}

Cell* CellStore::NewChunk() {
  void* p = std::calloc(kChunkCells, sizeof(Cell));
  return static_cast<Cell*>(p);
}

Cell* SlowThreadCell(uint64_t index) { return CellStore::Get().SlowThreadCell(index); }

Cell* CellStore::SlowThreadCell(uint64_t index) {
  // A scratch cell for the impossible cases (out of memory, bad index): the record is lost,
  // the host is not harmed.
  static Cell scratch[kChunkCells];
  const uint64_t chunk_index = index >> kChunkShift;
  if (chunk_index >= kMaxChunks) return &scratch[index & (kChunkCells - 1)];
  Arena* arena = tls_arena;
  if (arena == nullptr) {
    arena = NewArena();
    if (arena == nullptr) return &scratch[index & (kChunkCells - 1)];
    {
      internal::MutexLock lock(&mu_);
      arenas_.push_back(arena);
    }
    if (!tls_exited) tls_owner.arena = arena;  // registers the thread-exit hook
    tls_arena = arena;
  }
  Cell* chunk = arena->chunks[chunk_index].load(std::memory_order_relaxed);
  if (chunk == nullptr) {
    chunk = NewChunk();
    if (chunk == nullptr) return &scratch[index & (kChunkCells - 1)];
    arena->chunks[chunk_index].store(chunk, std::memory_order_release);
  }
  return chunk + (index & (kChunkCells - 1));
}

void CellStore::RetireArena(Arena* arena) {
  {
    internal::MutexLock lock(&mu_);
    for (uint64_t c = 0; c < kMaxChunks; ++c) {
      Cell* src = arena->chunks[c].load(std::memory_order_acquire);
      if (src == nullptr) continue;
      Cell* dst = retired_->chunks[c].load(std::memory_order_relaxed);
      if (dst == nullptr) {
        dst = NewChunk();
        if (dst == nullptr) continue;  // out of memory: this thread's share is lost
        retired_->chunks[c].store(dst, std::memory_order_release);
      }
      for (uint64_t i = 0; i < kChunkCells; ++i) {
        uint64_t v = src[i].load(std::memory_order_relaxed);
        if (v != 0) AddF64(dst + i, CellToDouble(v));  // single writer: we hold mu_
      }
    }
    for (auto it = arenas_.begin(); it != arenas_.end(); ++it) {
      if (*it == arena) {
        arenas_.erase(it);
        break;
      }
    }
  }
  DeleteArena(arena);
}

int64_t CellStore::Allocate(uint32_t n) {
  if (n == 0 || n > kChunkCells) return -1;
  internal::MutexLock lock(&mu_);
  auto it = free_.find(n);
  if (it != free_.end() && !it->second.empty()) {
    uint64_t base = it->second.back();
    it->second.pop_back();
    return static_cast<int64_t>(base);
  }
  uint64_t base = next_;
  if ((base & (kChunkCells - 1)) + n > kChunkCells) {  // never straddle a chunk
    base = (base | (kChunkCells - 1)) + 1;
  }
  if (base + n > kMaxChunks * kChunkCells) return -1;
  next_ = base + n;
  return static_cast<int64_t>(base);
}

void CellStore::ZeroRange(Arena* arena, uint64_t base, uint32_t n) {
  Cell* chunk = arena->chunks[base >> kChunkShift].load(std::memory_order_acquire);
  if (chunk == nullptr) return;
  for (uint32_t i = 0; i < n; ++i) {
    chunk[(base & (kChunkCells - 1)) + i].store(0, std::memory_order_relaxed);
  }
}

void CellStore::Free(uint64_t base, uint32_t n) {
  internal::MutexLock lock(&mu_);
  for (Arena* arena : arenas_) ZeroRange(arena, base, n);
  ZeroRange(retired_, base, n);
  free_[n].push_back(base);
}

void CellStore::Sum(uint64_t base, uint32_t n, double* out) const {
  for (uint32_t i = 0; i < n; ++i) out[i] = 0;
  const uint64_t chunk_index = base >> kChunkShift;
  const uint64_t offset = base & (kChunkCells - 1);
  auto add = [&](const Arena* arena) {
    const Cell* chunk = arena->chunks[chunk_index].load(std::memory_order_acquire);
    if (chunk == nullptr) return;
    for (uint32_t i = 0; i < n; ++i) {
      out[i] += CellToDouble(chunk[offset + i].load(std::memory_order_relaxed));
    }
  };
  for (const Arena* arena : arenas_) add(arena);
  add(retired_);
}

void CellStore::Read(uint64_t base, uint32_t n, double* out) {
  internal::MutexLock lock(&mu_);
  Sum(base, n, out);
}

double CellStore::ReadF64(uint64_t index) {
  double v = 0;
  Read(index, 1, &v);
  return v;
}

}  // namespace internal
}  // namespace vitals
