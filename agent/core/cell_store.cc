#include "agent/core/cell_store.h"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <new>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "agent/core/series_reclaim.h"

namespace vitals {
namespace internal {

CellTable g_cell_table{};

uint32_t CpuCopiesFromList(const std::string& present, uint32_t fallback) {
  uint64_t highest = 0;
  bool any = false;
  for (absl::string_view range : absl::StrSplit(present, ',', absl::SkipWhitespace())) {
    range = absl::StripAsciiWhitespace(range);
    std::pair<absl::string_view, absl::string_view> ends = absl::StrSplit(range, '-');
    uint64_t first = 0, last = 0;
    if (!absl::SimpleAtoi(ends.first, &first)) return fallback;
    last = first;
    if (!ends.second.empty() && (!absl::SimpleAtoi(ends.second, &last) || last < first)) {
      return fallback;
    }
    highest = std::max(highest, last);
    any = true;
  }
  if (!any) return fallback;
  return static_cast<uint32_t>(std::min<uint64_t>(highest + 1, kMaxCpus));
}

namespace {

bool KernelRegisteredRseq() {
#ifdef VITALS_HAVE_RSEQ
  return __rseq_size > 0;  // glibc sets it to 0 when it did not register (tunable, old kernel)
#else
  return false;
#endif
}

uint32_t PresentCpus() {
  long configured = sysconf(_SC_NPROCESSORS_CONF);
  const uint32_t fallback =
      static_cast<uint32_t>(std::clamp<long>(configured, 1, static_cast<long>(kMaxCpus)));
  std::ifstream in("/sys/devices/system/cpu/present");
  std::string line;
  if (!in || !std::getline(in, line)) return fallback;
  return CpuCopiesFromList(line, fallback);
}

std::atomic<uint32_t> emulated_cpus{0};
std::atomic<bool> store_made{false};

}  // namespace

bool EmulateCpusForBenchmark(uint32_t cpus) {
  if (cpus == 0 || cpus > kMaxCpus || store_made.load()) return false;
  emulated_cpus.store(cpus);
  return !store_made.load();
}

CellStore::CellStore() {
  store_made.store(true);
  const uint32_t emulated = emulated_cpus.load();
  const uint32_t present = emulated != 0 ? emulated : PresentCpus();
#ifdef VITALS_HAVE_RSEQ
  g_cell_table.rseq_offset = __rseq_offset;  // valid, registered or not (cpu_id reads -2 then)
#endif
  if (KernelRegisteredRseq()) {
    // One stripe for the rare writer without rseq: a thread whose registration failed, or a
    // CPU hot-added above the present ones.
    g_cell_table.cpus = present;
    stripes_ = 1;
  } else {
    g_cell_table.cpus = 0;  // every record takes the compare-and-swap fallback
    // Twice as many stripes as CPUs: threads rarely meet, and move on when they do.
    stripes_ = std::clamp<uint32_t>(2 * present, 4, 512);
  }
}

CellStore& CellStore::Get() {
  static CellStore* store = new CellStore;
  return *store;
}

void SlowAddToCell(uint64_t index, double amount) { CellStore::Get().SlowAdd(index, amount); }
void SlowAddToPair(uint64_t index, double value) { CellStore::Get().SlowAddPair(index, value); }
void SlowAddToCellAt(Cell* cpu0, double amount) { CellStore::Get().FallbackAdd(cpu0, amount); }
void SlowAddToPairAt(Cell* cpu0, double value) { CellStore::Get().FallbackAddPair(cpu0, value); }
namespace {

// The per-CPU copy (CPU 0's) of cell `offset` of promoted series `s`.
Cell* PerCpuAt(const SeriesCells& s, Cell* cpu0, uint32_t offset) {
  return offset < s.num_cells ? cpu0 + offset : s.native_cpu0 + (offset - s.num_cells);
}

bool SharedCas(const SeriesCells& s, uint32_t offset, double amount, bool pair) {
  Cell* cell = s.shared + offset;
  if (!pair) return CellStore::CasAdd(cell, amount);
  const bool collided = CellStore::CasAdd(cell, 1.0);  // the count, then the sum
  return CellStore::CasAdd(cell + 1, amount) || collided;
}

// Shared records of this thread, one in kVoteEvery of which votes.
thread_local uint32_t tls_shared_records = 0;

}  // namespace

void SharedAdd(const SeriesCells& s, uint32_t offset, double amount, bool pair) {
  Cell* cpu0 = s.cpu0.load(std::memory_order_acquire);
  if (cpu0 != nullptr) {  // promoted since the caller looked
    Cell* at = PerCpuAt(s, cpu0, offset);
    if (pair) {
      AddToPairAt(at, amount);
    } else {
      AddToCellAt(at, amount);
    }
    return;
  }
  CellStore::Get().NoteSharedRecord(s, SharedCas(s, offset, amount, pair));
}

void AddToNativeBucket(const SeriesCells& s, double value) {
  SharedAdd(s, s.num_cells + NativeCell(*s.native, value), 1.0, /*pair=*/false);  // either form
}

void SlowAddChecked(const SeriesCells& s, uint32_t expected, uint32_t offset, double amount,
                    bool pair) {
  CellStore& store = CellStore::Get();
  Cell* cpu0 = s.cpu0.load(std::memory_order_acquire);
  if (cpu0 != nullptr) {
    Cell* at = PerCpuAt(s, cpu0, offset);
#if defined(VITALS_HAVE_RSEQ) && defined(__SSE2__)
    const int added =
        pair ? RestartableAddChecked<CellPair>(at, _mm_set_pd(amount, 1.0), &s.generation, expected)
             : RestartableAddChecked<Cell>(at, amount, &s.generation, expected);
    if (added >= 0) return;
#endif
    WhileGeneration(s.generation, expected, [&] {
      if (pair) {
        store.FallbackAddPair(at, amount);
      } else {
        store.FallbackAdd(at, amount);
      }
    });
    return;
  }
  bool collided = false;
  if (WhileGeneration(s.generation, expected,
                      [&] { collided = SharedCas(s, offset, amount, pair); })) {
    store.NoteSharedRecord(s, collided);
  }
}

void AddToNativeBucketChecked(const SeriesCells& s, uint32_t expected, double value) {
  SlowAddChecked(s, expected, s.num_cells + NativeCell(*s.native, value), 1.0, /*pair=*/false);
}

void SharedCellsDelete::operator()(Cell* cells) const {
  ::operator delete (cells, std::align_val_t{64});
}

SharedCells CellStore::AllocateShared(uint32_t n) {
  const size_t bytes = SharedBytes(n);
  Cell* cells = static_cast<Cell*>(::operator new (bytes, std::align_val_t{64}));
  for (size_t i = 0; i < bytes / sizeof(Cell); ++i) new (&cells[i]) Cell(0);
  return SharedCells(cells);
}

void CellStore::NoteSharedRecord(const SeriesCells& s, bool collided) {
  if (!collided && ++tls_shared_records % kVoteEvery != 0) return;
  if (full_.load(std::memory_order_relaxed)) return;  // no vote: nothing would come of it
  const uint32_t cast = collided ? kPromoteVotes : 1;
  if (s.votes.fetch_add(cast, std::memory_order_relaxed) + cast < kPromoteVotes) return;
  // The series is owned by its family and mutable; records see it through a const reference.
  Promote(const_cast<SeriesCells&>(s));
}

bool CellStore::Promote(SeriesCells& s) {
  if (s.cpu0.load(std::memory_order_acquire) != nullptr) return true;
  if (!alloc_mu_.TryLock()) return false;
  bool promoted = s.cpu0.load(std::memory_order_relaxed) != nullptr;
  const uint32_t native = s.native_cells();
  const size_t bytes = PerCpuBytes(s);
  if (!promoted) {
    if (promoted_bytes_.load(std::memory_order_relaxed) + bytes > per_cpu_limit()) {
      full_.store(true, std::memory_order_relaxed);
    } else {
      const int64_t cell = AllocateLocked(s.num_cells);
      const int64_t native_cell = native == 0 || cell < 0 ? 0 : AllocateLocked(native);
      Cell* cpu0 = cell < 0 ? nullptr : CpuZeroCopy(static_cast<uint64_t>(cell));
      Cell* native_cpu0 = native == 0 || native_cell < 0
                              ? nullptr
                              : CpuZeroCopy(static_cast<uint64_t>(native_cell));
      if (cpu0 != nullptr && (native == 0 || native_cpu0 != nullptr)) {
        s.cell = static_cast<uint64_t>(cell);
        s.native_cell = static_cast<uint64_t>(native_cell);
        s.native_cpu0 = native_cpu0;
        promoted_bytes_.fetch_add(bytes, std::memory_order_relaxed);
        promoted_series_.fetch_add(1, std::memory_order_relaxed);
        s.cpu0.store(cpu0, std::memory_order_release);
        promoted = true;
      } else {  // the store is exhausted or out of memory: stay shared
        if (cell >= 0) FreeLocked(static_cast<uint64_t>(cell), s.num_cells);
        if (native != 0 && native_cell >= 0) FreeLocked(static_cast<uint64_t>(native_cell), native);
        full_.store(true, std::memory_order_relaxed);
      }
    }
  }
  alloc_mu_.Unlock();
  return promoted;
}

void CellStore::SumSeries(const SeriesCells& s, uint32_t offset, uint32_t n, double* out) const {
  for (uint32_t i = 0; i < n; ++i) {
    out[i] = CellToDouble(s.shared[offset + i].load(std::memory_order_relaxed));
  }
  if (s.cpu0.load(std::memory_order_acquire) == nullptr) return;
  const uint64_t base =
      offset < s.num_cells ? s.cell + offset : s.native_cell + (offset - s.num_cells);
  Accumulate(base, n, out);
}

void CellStore::ZeroSeries(const SeriesCells& s) {
  s.votes.store(0, std::memory_order_relaxed);  // a new series: busy or not, it shows anew
  const uint32_t n = s.num_cells + s.native_cells();
  for (uint32_t i = 0; i < n; ++i) s.shared[i].store(0, std::memory_order_relaxed);
  if (s.cpu0.load(std::memory_order_acquire) == nullptr) return;
  ZeroRange(s.cell, s.num_cells);
  if (s.native != nullptr) ZeroRange(s.native_cell, s.native->cells());
}

void CellStore::FreeSeries(const SeriesCells& s) {
  if (s.cpu0.load(std::memory_order_acquire) == nullptr) return;
  internal::MutexLock lock(&alloc_mu_);
  FreeLocked(s.cell, s.num_cells);
  if (s.native != nullptr) FreeLocked(s.native_cell, s.native->cells());
  promoted_bytes_.fetch_sub(PerCpuBytes(s), std::memory_order_relaxed);
  promoted_series_.fetch_sub(1, std::memory_order_relaxed);
  full_.store(false, std::memory_order_relaxed);
}

void CellStore::SetPerCpuLimit(size_t bytes) {
  internal::MutexLock lock(&alloc_mu_);
  per_cpu_limit_.store(bytes, std::memory_order_relaxed);
  full_.store(false, std::memory_order_relaxed);
}

size_t CellStore::chunk_bytes() const {
  return chunk_count() * copies() * kChunkCells * sizeof(Cell);
}

Cell* CellStore::ChunkFor(uint64_t chunk_index) {
  std::atomic<Cell*>& slot = g_cell_table.chunks[chunk_index];
  Cell* chunk = slot.load(std::memory_order_acquire);
  if (chunk != nullptr) return chunk;
  // Anonymous pages: page-aligned (no CPU's copy shares a cache line with another's) and zero
  // until first written, so copies of CPUs that never record into the chunk cost no memory.
  const size_t bytes = size_t{copies()} * kChunkCells * sizeof(Cell);
  void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return nullptr;
  Cell* fresh = static_cast<Cell*>(p);
  if (slot.compare_exchange_strong(chunk, fresh, std::memory_order_acq_rel,
                                   std::memory_order_acquire)) {
    chunk_count_.fetch_add(1, std::memory_order_relaxed);
    return fresh;
  }
  munmap(p, bytes);  // another thread installed it first
  return chunk;
}

namespace {
// The calling thread's fallback stripe, plus one (0: not chosen yet).
__thread uint32_t tls_stripe_plus_one = 0;
}  // namespace

Cell* CellStore::StripeCopy(Cell* cpu0) {
  // New threads are spread over the stripes round-robin; a thread that meets contention moves
  // on (StripeCasAdd), as Java's LongAdder does, so threads that collide part again.
  if (tls_stripe_plus_one == 0) {
    tls_stripe_plus_one = next_stripe_.fetch_add(1, std::memory_order_relaxed) % stripes_ + 1;
  }
  return cpu0 + size_t{g_cell_table.cpus + tls_stripe_plus_one - 1} * kChunkCells;
}

bool CellStore::CasAdd(Cell* cell, double amount) {
  uint64_t old = cell->load(std::memory_order_relaxed);
  if (cell->compare_exchange_strong(old, DoubleToCell(CellToDouble(old) + amount),
                                    std::memory_order_relaxed)) {
    return false;
  }
  while (!cell->compare_exchange_weak(old, DoubleToCell(CellToDouble(old) + amount),
                                      std::memory_order_relaxed)) {
  }
  return true;
}

void CellStore::StripeCasAdd(Cell* cell, double amount) {
  // Another thread writes this stripe: the add is done, take the next stripe from now on.
  if (CasAdd(cell, amount)) tls_stripe_plus_one = tls_stripe_plus_one % Get().stripes_ + 1;
}

Cell* CellStore::CpuZeroCopy(uint64_t index) {
  const uint64_t chunk_index = index >> kChunkShift;
  if (chunk_index >= kMaxChunks) return nullptr;
  Cell* chunk = ChunkFor(chunk_index);
  return chunk == nullptr ? nullptr : chunk + (index & (kChunkCells - 1));
}

void CellStore::SlowAdd(uint64_t index, double amount) {
  Cell* cpu0 = CpuZeroCopy(index);
  // A bad index or no memory for a chunk: the record is dropped, the host is not harmed.
  if (cpu0 == nullptr) return;
  if (AddOnThisCpu(cpu0, amount)) return;
  FallbackAdd(cpu0, amount);
}

void CellStore::FallbackAdd(Cell* cpu0, double amount) { StripeCasAdd(StripeCopy(cpu0), amount); }

void CellStore::SlowAddPair(uint64_t index, double value) {
  Cell* cpu0 = (index & 1) == 0 ? CpuZeroCopy(index) : nullptr;
  if (cpu0 == nullptr) return;  // dropped, as in SlowAdd
  if (AddPairOnThisCpu(reinterpret_cast<CellPair*>(cpu0), value)) return;
  FallbackAddPair(cpu0, value);
}

void CellStore::FallbackAddPair(Cell* cpu0, double value) {
  // The count, then the sum, each a compare-and-swap add on this thread's stripe.
  Cell* stripe = StripeCopy(cpu0);
  StripeCasAdd(stripe, 1.0);
  StripeCasAdd(stripe + 1, value);
}

int64_t CellStore::Allocate(uint32_t n) {
  internal::MutexLock lock(&alloc_mu_);
  return AllocateLocked(n);
}

int64_t CellStore::AllocateLocked(uint32_t n) {
  if (n == 0 || n > kChunkCells) return -1;
  auto it = free_.find(n);
  if (it != free_.end() && !it->second.empty()) {
    uint64_t base = it->second.back();
    it->second.pop_back();
    return static_cast<int64_t>(base);
  }
  uint64_t base = (next_ + 1) & ~uint64_t{1};  // even: a histogram's pairs are 16-byte aligned
  if ((base & (kChunkCells - 1)) + n > kChunkCells) {  // never straddle a chunk
    base = (base | (kChunkCells - 1)) + 1;
  }
  if (base + n > kMaxChunks * kChunkCells) return -1;
  next_ = base + n;
  return static_cast<int64_t>(base);
}

void CellStore::ZeroRange(uint64_t base, uint32_t n) {
  Cell* chunk = g_cell_table.chunks[base >> kChunkShift].load(std::memory_order_acquire);
  if (chunk == nullptr) return;
  const uint64_t offset = base & (kChunkCells - 1);
  for (uint32_t copy = 0; copy < copies(); ++copy) {
    Cell* cells = chunk + size_t{copy} * kChunkCells + offset;
    for (uint32_t i = 0; i < n; ++i) cells[i].store(0, std::memory_order_relaxed);
  }
}

void CellStore::Free(uint64_t base, uint32_t n) {
  internal::MutexLock lock(&alloc_mu_);
  FreeLocked(base, n);
}

void CellStore::FreeLocked(uint64_t base, uint32_t n) {
  // The range's owner is gone, so no thread writes these cells any more (the agent's
  // contract); zeroing them from here races with nobody.
  ZeroRange(base, n);
  free_[n].push_back(base);
}

void CellStore::Sum(uint64_t base, uint32_t n, double* out) const {
  for (uint32_t i = 0; i < n; ++i) out[i] = 0;
  Accumulate(base, n, out);
}

void CellStore::Accumulate(uint64_t base, uint32_t n, double* out) const {
  const Cell* chunk = g_cell_table.chunks[base >> kChunkShift].load(std::memory_order_acquire);
  if (chunk == nullptr) return;
  const uint64_t offset = base & (kChunkCells - 1);
  for (uint32_t copy = 0; copy < copies(); ++copy) {
    const Cell* cells = chunk + size_t{copy} * kChunkCells + offset;
    for (uint32_t i = 0; i < n; ++i) {
      out[i] += CellToDouble(cells[i].load(std::memory_order_relaxed));
    }
  }
}

double CellStore::ReadF64(uint64_t index) const {
  double v = 0;
  Sum(index, 1, &v);
  return v;
}

void CellStore::AddToCopyForBenchmark(uint64_t base, uint32_t n, uint32_t copy, double amount) {
  Cell* cpu0 = CpuZeroCopy(base);
  if (cpu0 == nullptr || copy >= copies()) return;
  Cell* cells = cpu0 + size_t{copy} * kChunkCells;
  for (uint32_t i = 0; i < n; ++i) {
    cells[i].store(DoubleToCell(CellToDouble(cells[i].load(std::memory_order_relaxed)) + amount),
                   std::memory_order_relaxed);
  }
}

double CellStore::ReadCopy(uint64_t index, uint32_t copy) const {
  const Cell* chunk = g_cell_table.chunks[index >> kChunkShift].load(std::memory_order_acquire);
  if (chunk == nullptr || copy >= copies()) return 0;
  return CellToDouble(chunk[size_t{copy} * kChunkCells + (index & (kChunkCells - 1))].load(
      std::memory_order_relaxed));
}

}  // namespace internal
}  // namespace vitals
