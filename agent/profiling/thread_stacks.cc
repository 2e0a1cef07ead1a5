#include "agent/profiling/thread_stacks.h"

#include <fcntl.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "agent/base/procfs.h"
#include "agent/profiling/libdw_api.h"

namespace vitals {
namespace internal {

absl::StatusOr<SavedRegisters> ParseSavedRegisters(absl::string_view text) {
  text = absl::StripAsciiWhitespace(text);
  SavedRegisters r;
  if (text == "running") {
    r.running = true;
    return r;
  }
  // "NR ARG1 ... ARG6 SP PC" while in a system call, "-1 SP PC" in user code.
  std::vector<absl::string_view> f = absl::StrSplit(text, ' ', absl::SkipEmpty());
  auto hex = [](absl::string_view s, uint64_t* out) {
    return absl::ConsumePrefix(&s, "0x") && absl::SimpleHexAtoi(s, out);
  };
  if (f.size() < 3 || !absl::SimpleAtoi(f[0], &r.syscall) || r.syscall < -1 ||
      (r.syscall >= 0 && f.size() != 9) || (r.syscall == -1 && f.size() != 3) ||
      !hex(f[f.size() - 2], &r.sp) || !hex(f[f.size() - 1], &r.pc)) {
    return absl::InvalidArgumentError(
        absl::StrCat("syscall: \"", text.substr(0, 80), "\" is not \"running\" or NR ... SP PC"));
  }
  return r;
}

std::string SyscallName(int64_t number) {
  struct Entry {
    int64_t number;
    const char* name;
  };
#if defined(__x86_64__)
  static constexpr Entry kNames[] = {
      {0, "read"},
      {1, "write"},
      {2, "open"},
      {3, "close"},
      {7, "poll"},
      {17, "pread64"},
      {18, "pwrite64"},
      {19, "readv"},
      {20, "writev"},
      {23, "select"},
      {24, "sched_yield"},
      {34, "pause"},
      {35, "nanosleep"},
      {40, "sendfile"},
      {42, "connect"},
      {43, "accept"},
      {44, "sendto"},
      {45, "recvfrom"},
      {46, "sendmsg"},
      {47, "recvmsg"},
      {61, "wait4"},
      {65, "semop"},
      {73, "flock"},
      {74, "fsync"},
      {75, "fdatasync"},
      {128, "rt_sigtimedwait"},
      {130, "rt_sigsuspend"},
      {202, "futex"},
      {208, "io_getevents"},
      {220, "semtimedop"},
      {230, "clock_nanosleep"},
      {232, "epoll_wait"},
      {247, "waitid"},
      {257, "openat"},
      {270, "pselect6"},
      {271, "ppoll"},
      {275, "splice"},
      {281, "epoll_pwait"},
      {288, "accept4"},
      {299, "recvmmsg"},
      {307, "sendmmsg"},
      {426, "io_uring_enter"},
      {441, "epoll_pwait2"},
  };
#elif defined(__aarch64__)
  static constexpr Entry kNames[] = {
      {4, "io_getevents"},
      {22, "epoll_pwait"},
      {32, "flock"},
      {56, "openat"},
      {57, "close"},
      {63, "read"},
      {64, "write"},
      {65, "readv"},
      {66, "writev"},
      {67, "pread64"},
      {68, "pwrite64"},
      {72, "pselect6"},
      {73, "ppoll"},
      {82, "fsync"},
      {83, "fdatasync"},
      {95, "waitid"},
      {98, "futex"},
      {101, "nanosleep"},
      {115, "clock_nanosleep"},
      {124, "sched_yield"},
      {133, "rt_sigsuspend"},
      {137, "rt_sigtimedwait"},
      {202, "accept"},
      {203, "connect"},
      {206, "sendto"},
      {207, "recvfrom"},
      {211, "sendmsg"},
      {212, "recvmsg"},
      {242, "accept4"},
      {260, "wait4"},
      {426, "io_uring_enter"},
      {441, "epoll_pwait2"},
  };
#else
  static constexpr Entry kNames[] = {{-2, ""}};
#endif
  for (const Entry& e : kNames) {
    if (e.number == number) return e.name;
  }
  return absl::StrCat("syscall ", number);
}

#if defined(VITALS_HAVE_LIBDWFL) && (defined(__x86_64__) || defined(__aarch64__))
namespace {

#if defined(__x86_64__)
constexpr int kDwarfSp = 7;  // rsp in the x86-64 psABI's DWARF numbering
constexpr int kDwarfFp = 6;  // rbp
#else
constexpr int kDwarfSp = 31;  // sp in AArch64's
constexpr int kDwarfFp = 29;  // x29, the frame pointer
#endif

// Reads [addr, addr + len) of this process; false where any of it is not mapped. Never faults:
// a thread's stack may be unmapped under us once the thread ends.
size_t ReadOwnMemory(uint64_t addr, void* out, size_t len) {
  // One iovec per page, so a read that runs into an unmapped page keeps what came before it
  // (process_vm_readv never splits an iovec).
  constexpr size_t kPage = 4096;
  iovec local{out, len};
  iovec remote[32];
  int n = 0;
  for (uint64_t at = addr, end = addr + len; at < end && n < 32; ++n) {
    const uint64_t next = std::min<uint64_t>(end, (at / kPage + 1) * kPage);
    remote[n] = iovec{reinterpret_cast<void*>(at), static_cast<size_t>(next - at)};
    at = next;
  }
  const ssize_t got = process_vm_readv(getpid(), &local, 1, remote, n, 0);
  if (got >= 0) return static_cast<size_t>(got);
  // Without process_vm_readv (a seccomp profile may refuse it), /proc/self/mem answers EIO
  // where nothing is mapped.
  static const int mem = open("/proc/self/mem", O_RDONLY | O_CLOEXEC);
  if (mem < 0) return 0;
  const ssize_t r = pread(mem, out, len, static_cast<off_t>(addr));
  return r > 0 ? static_cast<size_t>(r) : 0;
}

// Whether `ra` follows a call instruction: the return address of a real call. `*target` is the
// callee of a direct call, 0 for an indirect one.
bool AfterCall(uint64_t ra, uint64_t* target) {
  *target = 0;
  unsigned char code[8];
  if (ra < sizeof code || ReadOwnMemory(ra - sizeof code, code, sizeof code) != sizeof code) {
    return false;
  }
#if defined(__x86_64__)
  if (code[3] == 0xe8) {  // call rel32
    int32_t rel;
    std::memcpy(&rel, code + 4, 4);
    *target = ra + static_cast<int64_t>(rel);
    return true;
  }
  // call r/m64 (ff /2) in its 2- to 7-byte forms (register, [reg], disp8, disp32, SIB, REX).
  for (int len = 2; len <= 7; ++len) {
    const unsigned char* op = code + sizeof code - len;
    if (op[0] == 0xff && ((op[1] >> 3) & 7) == 2) return true;
    if (len >= 3 && (op[0] & 0xf0) == 0x40 && op[1] == 0xff && ((op[2] >> 3) & 7) == 2) {
      return true;
    }
  }
  return false;
#else
  uint32_t insn;
  std::memcpy(&insn, code + 4, 4);
  if ((insn & 0xfc000000u) == 0x94000000u) {  // bl imm26
    const int64_t imm = static_cast<int64_t>(static_cast<int32_t>(insn << 6) >> 6) * 4;
    *target = ra - 4 + static_cast<uint64_t>(imm);
    return true;
  }
  return (insn & 0xfffffc1fu) == 0xd63f0000u;  // blr
#endif
}

// One dump's libdw session and the thread being walked.
class Walker {
 public:
  static constexpr size_t kStackCopy = 64 << 10;

  explicit Walker(const LibdwApi& api) : api_(api) {}
  ~Walker() {
    if (dwfl_ != nullptr) api_.end(dwfl_);
  }

  absl::Status Begin() {
    dwfl_ = BeginProcessSession(api_);
    if (dwfl_ == nullptr) return absl::FailedPreconditionError("libdw cannot read this process");
    static const Dwfl_Thread_Callbacks kCallbacks = {&NextThread,          &GetThread, &MemoryRead,
                                                     &SetInitialRegisters, nullptr,    nullptr};
    if (!api_.attach_state(dwfl_, nullptr, getpid(), &kCallbacks, this)) {
      return absl::FailedPreconditionError("libdw cannot unwind in this process");
    }
    return absl::OkStatus();
  }

  // Walks `tid` from the saved `regs`: up to `max_frames` pcs, leaf first. False when not even
  // the first frame could be read.
  //
  // Only the stack pointer and program counter are saved where we can read them. That is
  // enough for call frame information that finds the frame from the stack pointer, but a
  // function built with frame pointers finds its frame from rbp (x29), which the leaf system
  // call wrapper did not save. When the walk stops there, the frame pointer is found the way
  // the function's own prologue left it: the first slot above the frame's stack pointer that
  // holds a higher stack address followed by a return address (one that follows a call
  // instruction). The walk then goes on from that frame with the frame pointer set; at most
  // kMaxResumes times.
  bool Walk(pid_t tid, const SavedRegisters& regs, int max_frames, std::vector<uint64_t>* pcs,
            bool* truncated) {
    pcs_ = pcs;
    pcs_->clear();
    max_frames_ = max_frames;
    truncated_ = false;
    copy_base_ = regs.sp;
    copy_.resize(kStackCopy);
    copy_.resize(ReadOwnMemory(regs.sp, copy_.data(), kStackCopy));
    start_ = Start{regs.sp, regs.pc, 0};
    skip_first_ = false;
    for (int resume = 0;; ++resume) {
      last_sp_ = 0;
      const size_t before = pcs_->size();
      // Its result is no guide: libdw ends a walk that lacks a register as at the outermost
      // frame. FindFramePointer tells the two apart from the last frame's CFI.
      api_.getthread_frames(dwfl_, tid, &OnFrame, this);
      if (truncated_ || !api_.can_resume() || resume == kMaxResumes || pcs_->size() == before ||
          last_sp_ == 0 || !FindFramePointer()) {
        break;
      }
    }
    *truncated = truncated_;
    return !pcs_->empty();
  }

 private:
  static pid_t NextThread(Dwfl*, void*, void**) { return 0; }  // only asked for by tid
  static bool GetThread(Dwfl*, pid_t, void* arg, void** thread_arg) {
    *thread_arg = arg;
    return true;
  }
  static bool MemoryRead(Dwfl*, Dwarf_Addr addr, Dwarf_Word* result, void* arg) {
    auto* w = static_cast<Walker*>(arg);
    if (addr >= w->copy_base_ && addr - w->copy_base_ + sizeof *result <= w->copy_.size()) {
      std::memcpy(result, w->copy_.data() + (addr - w->copy_base_), sizeof *result);
      return true;
    }
    return ReadOwnMemory(addr, result, sizeof *result) == sizeof *result;
  }
  static bool SetInitialRegisters(Dwfl_Thread* thread, void* arg) {
    auto* w = static_cast<Walker*>(arg);
    Dwarf_Word sp = w->start_.sp;
    if (!w->api_.thread_state_registers(thread, kDwarfSp, 1, &sp)) return false;
    if (w->start_.fp != 0) {
      Dwarf_Word fp = w->start_.fp;
      if (!w->api_.thread_state_registers(thread, kDwarfFp, 1, &fp)) return false;
    }
    w->api_.thread_state_register_pc(thread, w->start_.pc);
    return true;
  }
  static int OnFrame(Dwfl_Frame* frame, void* arg) {
    auto* w = static_cast<Walker*>(arg);
    Dwarf_Addr pc = 0;
    bool activation = false;
    if (!w->api_.frame_pc(frame, &pc, &activation) || pc == 0) return DWARF_CB_ABORT;
    // A resumed walk starts at a frame already listed, from its return address.
    const bool again = std::exchange(w->skip_first_, false);
    if (again) activation = false;
    Dwarf_Word sp = 0;
    w->last_sp_ = 0;
    if (w->api_.frame_reg != nullptr && w->api_.frame_reg(frame, kDwarfSp, &sp) == 0) {
      w->last_sp_ = sp;
    }
    w->last_pc_ = pc;
    w->last_activation_ = activation;
    if (again) return DWARF_CB_OK;
    if (static_cast<int>(w->pcs_->size()) >= w->max_frames_) {
      w->truncated_ = true;
      return DWARF_CB_ABORT;
    }
    // Above the leaf, a pc is a return address: one byte back lands in the call.
    w->pcs_->push_back(activation ? pc : pc - 1);
    return DWARF_CB_OK;
  }

  // The CFA rule of the code at `pc` (an instruction address: a return address minus one): the
  // register it is computed from and its offset; and where the function that holds `pc`
  // starts, by its symbol (0 when no symbol covers it).
  struct CfaRule {
    uint64_t reg = 0;
    int64_t offset = 0;
    uint64_t start = 0;
    std::string name;  // the function's symbol
  };
  bool RuleAt(uint64_t pc, CfaRule* rule) {
    Dwfl_Module* mod = api_.addrmodule(dwfl_, pc);
    if (mod == nullptr) return false;
    Dwarf_Addr bias = 0;
    Dwarf_CFI* cfi = api_.eh_cfi(mod, &bias);
    Dwarf_Frame* frame = nullptr;
    if (cfi == nullptr || api_.cfi_addrframe(cfi, pc - bias, &frame) != 0 || frame == nullptr) {
      return false;
    }
    bool found = false;
    Dwarf_Op* ops = nullptr;
    size_t nops = 0;
    if (api_.frame_cfa(frame, &ops, &nops) == 0 && nops == 1 && ops[0].atom == DW_OP_bregx) {
      found = true;
      *rule = CfaRule{ops[0].number, static_cast<int64_t>(ops[0].number2), 0, ""};
      GElf_Off offset = 0;
      GElf_Sym sym;
      if (const char* name = api_.addrinfo(mod, pc, &offset, &sym, nullptr, nullptr, nullptr)) {
        rule->start = pc - offset;
        rule->name = name;
      }
    }
    free(frame);  // libdw allocates it with malloc
    return found;
  }

  // Sets start_ to resume the walk at the last frame with its frame pointer, when the walk
  // stopped there because its CFI computes the frame from the frame pointer (a function built
  // with frame pointers, whose rbp the kernel saved but does not show). The frame record is
  // where the function's prologue put it: read from the prologue when it is the usual one,
  // else searched for above the frame's stack pointer: a slot holding the caller's frame
  // pointer and then a return address that follows a call instruction. A record whose call is
  // a direct call to this function (its first instruction, or the endbr64 / bti
  // before it, or through a PLT stub bound to it) is taken; any other (an indirect call, or a
  // call to a function that tail-called this one) is checked one frame further: the caller's
  // CFI at the return address, applied to this record, must find the caller's own return
  // address after a call.
  bool FindFramePointer() {
    CfaRule rule;
    if (!RuleAt(last_activation_ ? last_pc_ : last_pc_ - 1, &rule) || rule.reg != kDwarfFp) {
      return false;  // the walk ended for another reason (the outermost frame, most often)
    }
#if defined(__x86_64__)
    if (rule.offset != 16) return false;  // push rbp; mov rbp, rsp: the CFA is 16 above rbp
#endif
    constexpr uint64_t kScan = 16 << 10;  // a frame's locals, at most
    constexpr uint64_t kMaxFrame = 8 << 20;
    const uint64_t copy_end = copy_base_ + copy_.size();
    auto word = [&](uint64_t at, uint64_t* out) {
      if (at >= copy_base_ && at + 8 <= copy_end) {
        std::memcpy(out, copy_.data() + (at - copy_base_), 8);
        return true;
      }
      return ReadOwnMemory(at, out, 8) == 8;
    };
    // Where the prologue puts the record, when it is the usual one: the record is that far
    // above the stack pointer at any call the function makes.
    if (uint64_t above = 0; rule.start != 0 && PrologueFrameSize(rule.start, &above)) {
      uint64_t saved_fp = 0, ra = 0, target = 0;
      const uint64_t at = last_sp_ + above;
      if (word(at, &saved_fp) && word(at + 8, &ra) && ra >= 4096 &&
          (saved_fp == 0 || (saved_fp > at && saved_fp - at <= kMaxFrame)) &&
          AfterCall(ra, &target) &&
          (target == 0 || Reaches(target, rule) ||
           CallerChecks(ra, at + static_cast<uint64_t>(rule.offset), saved_fp))) {
        start_ = Start{last_sp_, last_pc_, at};
        skip_first_ = true;
        return true;
      }
    }
    // Otherwise a search. The frame's uninitialized locals may hold stale records of earlier
    // calls, so a record made by a direct call to this function is preferred wherever it is in
    // the range; then the first made by an indirect call that checks out one frame further;
    // then the first made by a direct call to another function that checks out (that function
    // may have tail-called this one, but stale records are made that way too).
    uint64_t found = 0, fallback = 0;
    for (uint64_t at = (last_sp_ + 7) & ~uint64_t{7}; at < last_sp_ + kScan; at += 8) {
      uint64_t saved_fp = 0, ra = 0, target = 0;
      if (!word(at, &saved_fp) || !word(at + 8, &ra) || ra < 4096) continue;
      if (saved_fp != 0 && (saved_fp <= at || saved_fp - at > kMaxFrame)) continue;
      if (api_.addrmodule(dwfl_, ra - 1) == nullptr || !AfterCall(ra, &target)) continue;
      if (target != 0 && Reaches(target, rule)) {
        found = at;
        break;
      }
      uint64_t& slot = target == 0 ? found : fallback;
      if (slot == 0 && CallerChecks(ra, at + static_cast<uint64_t>(rule.offset), saved_fp)) {
        slot = at;
      }
    }
    if (found == 0) found = fallback;
    if (found != 0) {
      start_ = Start{last_sp_, last_pc_, found};
      skip_first_ = true;
      return true;
    }
    return false;
  }

  // The distance from the stack pointer to the frame record inside the function whose code
  // starts at `start`, read from its prologue when it is gcc's and clang's usual one:
  // [endbr64] push %rbp; mov %rsp,%rbp; pushes of callee-saved registers; sub $N,%rsp, with
  // register moves, zeroing and immediates scheduled in between. False for any other (no sub,
  // a realigned stack, another architecture). A function that moves %rsp again later (alloca) is
  // caught by the checks of the record found there.
  static bool PrologueFrameSize(uint64_t start, uint64_t* above) {
#if defined(__x86_64__)
    unsigned char code[64];
    if (ReadOwnMemory(start, code, sizeof code) != sizeof code) return false;
    size_t at = 0;
    // The length of an instruction that leaves %rsp and %rbp alone and that compilers schedule
    // into prologues (register moves, zeroing, immediates), or 0.
    auto harmless = [&](size_t i) -> size_t {
      const bool rex = (code[i] & 0xf0) == 0x40;
      const size_t op = i + (rex ? 1 : 0);
      const unsigned char modrm = code[op + 1];
      const bool reg_reg = modrm >= 0xc0;
      const int reg = ((modrm >> 3) & 7) | (rex && (code[i] & 4) ? 8 : 0);
      const int rm = (modrm & 7) | (rex && (code[i] & 1) ? 8 : 0);
      const bool touches_sp_bp = reg == 4 || reg == 5 || rm == 4 || rm == 5;
      if ((code[op] == 0x89 || code[op] == 0x8b || code[op] == 0x31 || code[op] == 0x33) &&
          reg_reg && !touches_sp_bp) {
        return op + 2 - i;  // mov / xor between registers
      }
      if (code[op] >= 0xb8 && code[op] <= 0xbf && !(code[op] == 0xbc || code[op] == 0xbd) &&
          !(rex && (code[i] & 8) != 0)) {
        return op + 5 - i;  // mov $imm32, %r32
      }
      return 0;
    };
    if (code[0] == 0xf3 && code[1] == 0x0f && code[2] == 0x1e && code[3] == 0xfa) at = 4;
    if (code[at++] != 0x55) return false;  // push %rbp
    while (at + 8 < sizeof code &&
           !(code[at] == 0x48 && code[at + 1] == 0x89 && code[at + 2] == 0xe5)) {
      const size_t n = harmless(at);
      if (n == 0) return false;
      at += n;
    }
    at += 3;  // mov %rsp,%rbp
    uint64_t size = 0;
    while (at + 8 < sizeof code) {
      if (code[at] >= 0x50 && code[at] <= 0x57 && code[at] != 0x54 && code[at] != 0x55) {
        size += 8;  // push of a callee-saved register
        at += 1;
      } else if (code[at] == 0x41 && code[at + 1] >= 0x50 && code[at + 1] <= 0x57) {
        size += 8;  // push %r8..%r15
        at += 2;
      } else if (code[at] == 0x48 && code[at + 1] == 0x83 && code[at + 2] == 0xec) {
        *above = size + code[at + 3];  // sub $imm8,%rsp
        return true;
      } else if (code[at] == 0x48 && code[at + 1] == 0x81 && code[at + 2] == 0xec) {
        uint32_t imm;
        std::memcpy(&imm, code + at + 3, 4);
        *above = size + imm;  // sub $imm32,%rsp
        return true;
      } else if (const size_t n = harmless(at); n > 0) {
        at += n;
      } else {
        return false;  // something else (a call, a realignment): not read here
      }
    }
    return false;
#else
    (void)start;
    (void)above;
    return false;
#endif
  }

  // Where a direct call to `target` lands: the target itself, or through a PLT stub, the
  // function its GOT slot holds.
  static uint64_t ThroughPlt(uint64_t target) {
#if defined(__x86_64__)
    // A PLT stub: [endbr64] [bnd] jmp *disp32(%rip), to the address in its GOT slot.
    unsigned char code[11];
    if (ReadOwnMemory(target, code, sizeof code) != sizeof code) return target;
    size_t at = 0;
    if (code[0] == 0xf3 && code[1] == 0x0f && code[2] == 0x1e && code[3] == 0xfa) at = 4;
    if (code[at] == 0xf2) ++at;
    if (code[at] != 0xff || code[at + 1] != 0x25) return target;
    int32_t disp;
    std::memcpy(&disp, code + at + 2, 4);
    const uint64_t slot = target + at + 6 + static_cast<int64_t>(disp);
    uint64_t bound = 0;
    if (ReadOwnMemory(slot, &bound, 8) == 8 && bound != 0) return bound;
#endif
    return target;
  }

  // Whether a direct call to `target` enters the function `rule` describes: at its start (or
  // the endbr64 / bti before it), through a PLT stub, or through the function it was split
  // from by the compiler (`f` jumping to `f.part.0`, `f.cold`, `f.isra.0`, `f.constprop.0`).
  bool Reaches(uint64_t target, const CfaRule& rule) {
    if (rule.start == 0) return false;
    target = ThroughPlt(target);
    if (target <= rule.start && rule.start - target <= 4) return true;
    Dwfl_Module* mod = api_.addrmodule(dwfl_, target);
    GElf_Off offset = 0;
    GElf_Sym sym;
    const char* callee = mod == nullptr
                             ? nullptr
                             : api_.addrinfo(mod, target, &offset, &sym, nullptr, nullptr, nullptr);
    if (callee == nullptr || offset > 4 || rule.name.empty()) return false;
    const size_t n = std::strlen(callee);
    return rule.name.size() > n + 1 && rule.name.compare(0, n, callee) == 0 && rule.name[n] == '.';
  }

  // Whether the caller that `ra` returns into, entered with this frame's CFA `cfa` as its stack
  // pointer and `saved_fp` as its frame pointer, has a return address after a call where its
  // CFI says (x86-64; elsewhere the record is taken as it is).
  bool CallerChecks(uint64_t ra, uint64_t cfa, uint64_t saved_fp) {
#if defined(__x86_64__)
    CfaRule caller;
    if (!RuleAt(ra - 1, &caller)) return false;
    uint64_t base = 0;
    if (caller.reg == kDwarfSp) {
      base = cfa;  // after the return, rsp is this frame's CFA
    } else if (caller.reg == kDwarfFp) {
      base = saved_fp;
    } else {
      return false;
    }
    uint64_t caller_ra = 0, target = 0;
    const uint64_t caller_cfa = base + static_cast<uint64_t>(caller.offset);
    return caller_cfa > cfa && ReadOwnMemory(caller_cfa - 8, &caller_ra, 8) == 8 &&
           caller_ra >= 4096 && AfterCall(caller_ra, &target);
#else
    (void)ra;
    (void)cfa;
    (void)saved_fp;
    return true;
#endif
  }

  static constexpr int kMaxResumes = 8;
  struct Start {
    uint64_t sp = 0, pc = 0, fp = 0;  // fp 0: unknown
  };

  const LibdwApi& api_;
  Dwfl* dwfl_ = nullptr;
  Start start_;
  bool skip_first_ = false;
  uint64_t last_sp_ = 0, last_pc_ = 0;  // of the last frame the walk reached
  bool last_activation_ = false;
  std::vector<uint64_t>* pcs_ = nullptr;
  int max_frames_ = 0;
  bool truncated_ = false;
  uint64_t copy_base_ = 0;
  std::string copy_;
};

// What the kernel shows of a thread: its saved registers and how often it has been scheduled.
struct Observation {
  std::string syscall_text;
  std::string schedstat;  // "run-ns wait-ns timeslices"; empty without schedstats
  bool operator==(const Observation& o) const {
    return syscall_text == o.syscall_text && schedstat == o.schedstat;
  }
};

bool Observe(const std::string& dir, Observation* out) {
  auto syscall = Procfs::ReadPath(dir + "/syscall", 512);
  if (!syscall.ok()) return false;
  out->syscall_text = *std::move(syscall);
  auto sched = Procfs::ReadPath(dir + "/schedstat", 256);
  // The run time moves only while the thread runs; the timeslice count whenever it is picked.
  out->schedstat = sched.ok() ? *std::move(sched) : "";
  return true;
}

}  // namespace

absl::StatusOr<std::vector<ThreadStack>> TakeThreadStacks(const ThreadStackOptions& options,
                                                          const std::function<bool()>& cancelled) {
  const absl::Time start = absl::Now();
  const LibdwApi* api = LoadLibdw();
  if (api == nullptr || !api->can_unwind()) {
    return absl::FailedPreconditionError(
        "thread stacks need libdw.so.1 with its unwinder (Debian: libdw1)");
  }
  auto tids = Procfs("/proc", "self").ListTasks(options.max_threads);
  if (!tids.ok()) return absl::UnavailableError(tids.status().message());

  Walker walker(*api);
  if (absl::Status s = walker.Begin(); !s.ok()) return s;
  const double tick = 1.0 / static_cast<double>(sysconf(_SC_CLK_TCK));
  const pid_t self = static_cast<pid_t>(syscall(SYS_gettid));
  std::vector<ThreadStack> out;
  out.reserve(tids->size());
  for (pid_t tid : *tids) {
    ThreadStack t;
    t.tid = tid;
    const std::string task = absl::StrCat("/proc/self/task/", tid);
    auto stat_text = Procfs::ReadPath(task + "/stat", 1024);
    if (!stat_text.ok()) continue;  // ended since the listing
    if (auto stat = ParseProcStat(*stat_text); stat.ok()) {
      t.name = std::move(stat->comm);
      t.state = stat->state;
      t.cpu_seconds = static_cast<double>(stat->utime_ticks + stat->stime_ticks) * tick;
    }
    if (tid == self) {
      t.sample = ThreadStack::Sample::kSelf;
      t.why = "this thread is taking the dump";
      out.push_back(std::move(t));
      continue;
    }
    const absl::Time thread_until =
        std::min(start + options.deadline, absl::Now() + options.running_wait);
    t.sample = ThreadStack::Sample::kFailed;
    t.why = "the thread ended while it was being read";
    for (int attempt = 0;; ++attempt) {
      if (cancelled() || absl::Now() >= start + options.deadline) {
        t.sample = ThreadStack::Sample::kDeadline;
        t.why = absl::StrCat("not sampled: the dump's deadline of ",
                             absl::FormatDuration(options.deadline), " passed");
        break;
      }
      Observation before, after;
      if (!Observe(task, &before)) break;
      auto regs = ParseSavedRegisters(before.syscall_text);
      if (!regs.ok()) {
        t.why = std::string(regs.status().message());
        break;
      }
      if (!regs->running) {
        t.syscall = regs->syscall;
        if (!walker.Walk(tid, *regs, options.max_frames, &t.pcs, &t.truncated)) {
          t.why = "the unwinder found no frame at the saved registers";
          break;
        }
        if (Observe(task, &after) && after == before) {
          t.sample = ThreadStack::Sample::kTaken;
          t.why.clear();
          break;
        }
        t.pcs.clear();  // it ran during the walk: the copy may mix two moments
      }
      if (absl::Now() >= thread_until) {
        t.sample = ThreadStack::Sample::kRunning;
        t.why = absl::StrCat("running: on a CPU throughout ",
                             absl::FormatDuration(options.running_wait),
                             " (a CPU profile shows where; /debug/pprof/profile)");
        t.syscall = -1;
        break;
      }
      // Let it block or be preempted; a thread on a CPU is looked at again shortly.
      absl::SleepFor(absl::Microseconds(attempt < 10 ? 100 : 1000));
    }
    out.push_back(std::move(t));
  }
  return out;
}

#else  // no libdw headers at build time, or an architecture without a register table here

absl::StatusOr<std::vector<ThreadStack>> TakeThreadStacks(const ThreadStackOptions&,
                                                          const std::function<bool()>&) {
  return absl::FailedPreconditionError(
      "thread stacks need libdw (built without elfutils/libdwfl.h) on x86-64 or AArch64");
}

#endif

}  // namespace internal
}  // namespace vitals
