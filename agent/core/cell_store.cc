#include "agent/core/cell_store.h"

#include <pthread.h>

#include <cstdlib>
#include <new>

namespace vitals {
namespace internal {

__thread Arena* tls_arena = nullptr;

// An arena and its place in the store's list. `arena` comes first, so an Arena* is a Node*.
struct CellStore::Node {
  Arena arena;
  Node* next = nullptr;            // immutable once the node is published
  std::atomic<bool> owned{false};  // a live thread writes this arena
};

CellStore::CellStore() {
  pthread_key_t key;
  // Runs at thread exit after the thread's C++ thread_local destructors, so records made from
  // those still land in the arena before it is given up. If creating the key fails (the
  // process ran out of keys), arenas of exited threads are simply not reused.
  if (pthread_key_create(&key, &CellStore::Release) == 0) {
    exit_key_ = static_cast<unsigned int>(key) + 1;
  }
}

CellStore& CellStore::Get() {
  static CellStore* store = new CellStore;
  return *store;
}

Cell* CellStore::NewChunk() {
  void* p = std::calloc(kChunkCells, sizeof(Cell));
  return static_cast<Cell*>(p);
}

Cell* SlowThreadCell(uint64_t index) { return CellStore::Get().SlowThreadCell(index); }

CellStore::Node* CellStore::Claim() {
  Node* head = head_.load(std::memory_order_acquire);
  for (Node* n = head; n != nullptr; n = n->next) {
    bool expected = false;
    // acquire: the previous owner's last writes (released when it gave the arena up) are
    // visible before this thread adds to them.
    if (!n->owned.load(std::memory_order_relaxed) &&
        n->owned.compare_exchange_strong(expected, true, std::memory_order_acquire)) {
      return n;
    }
  }
  // calloc: 64 KiB of null chunk pointers, zero pages until touched.
  void* p = std::calloc(1, sizeof(Node));
  if (p == nullptr) return nullptr;
  Node* node = new (p) Node;  // atomics of pointers, zero-initialized by calloc
  node->owned.store(true, std::memory_order_relaxed);
  node->next = head;
  while (!head_.compare_exchange_weak(node->next, node, std::memory_order_release,
                                      std::memory_order_acquire)) {
  }
  arena_count_.fetch_add(1, std::memory_order_relaxed);
  return node;
}

void CellStore::Release(void* node) {
  tls_arena = nullptr;  // a record made after this (another key's destructor) claims again
  static_cast<Node*>(node)->owned.store(false, std::memory_order_release);
}

Cell* CellStore::SlowThreadCell(uint64_t index) {
  // A scratch cell for the impossible cases (out of memory, bad index): the record is lost,
  // the host is not harmed.
  static Cell scratch[kChunkCells];
  const uint64_t chunk_index = index >> kChunkShift;
  if (chunk_index >= kMaxChunks) return &scratch[index & (kChunkCells - 1)];
  Arena* arena = tls_arena;
  if (arena == nullptr) {
    Node* node = Claim();
    if (node == nullptr) return &scratch[index & (kChunkCells - 1)];
    if (exit_key_ != 0) pthread_setspecific(static_cast<pthread_key_t>(exit_key_ - 1), node);
    arena = &node->arena;
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

int64_t CellStore::Allocate(uint32_t n) {
  if (n == 0 || n > kChunkCells) return -1;
  internal::MutexLock lock(&alloc_mu_);
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
  // The range's family is gone, so no thread writes these cells any more (the agent's
  // contract); zeroing them from here races with nobody.
  internal::MutexLock lock(&alloc_mu_);
  for (Node* node = head_.load(std::memory_order_acquire); node != nullptr; node = node->next) {
    ZeroRange(&node->arena, base, n);
  }
  free_[n].push_back(base);
}

void CellStore::Sum(uint64_t base, uint32_t n, double* out) const {
  for (uint32_t i = 0; i < n; ++i) out[i] = 0;
  const uint64_t chunk_index = base >> kChunkShift;
  const uint64_t offset = base & (kChunkCells - 1);
  for (const Node* node = head_.load(std::memory_order_acquire); node != nullptr;
       node = node->next) {
    const Cell* chunk = node->arena.chunks[chunk_index].load(std::memory_order_acquire);
    if (chunk == nullptr) continue;
    for (uint32_t i = 0; i < n; ++i) {
      out[i] += CellToDouble(chunk[offset + i].load(std::memory_order_relaxed));
    }
  }
}

double CellStore::ReadF64(uint64_t index) const {
  double v = 0;
  Sum(index, 1, &v);
  return v;
}

}  // namespace internal
}  // namespace vitals
