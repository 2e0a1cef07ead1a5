// Source positions from the DWARF of this test binary (built with -g), through libdw.

#include "agent/profiling/line_info.h"

#include <catch2/catch.hpp>
#include <cstdint>
#include <string>
#include <vector>

namespace vitals_line_info_test {

volatile int sink = 0;

// An inlined callee and its out-of-line caller: an address inside the callee's code in the
// caller names both, the callee first, each at its own line.
// The line numbers below count on this layout.
// clang-format off
constexpr int kCalleeLine = __LINE__ + 2;
__attribute__((always_inline)) inline void InlinedCallee(int x) {
  sink = x * 7;
}

constexpr int kCallLine = __LINE__ + 3;
__attribute__((noinline)) void OutOfLineCaller(int x) {
  sink = x;
  InlinedCallee(x + 1);
  sink = x + 2;
}
// clang-format on

}  // namespace vitals_line_info_test

namespace {

using vitals::internal::LineInfo;

TEST_CASE("libdw is found here, as scripts/bootstrap installs it", "[symbols]") {
  CHECK(LineInfo::Available());
}

TEST_CASE("an address inside inlined code names the inlined function and its caller", "[symbols]") {
  auto info = LineInfo::ForThisProcess();
  REQUIRE(info != nullptr);
  const auto start = reinterpret_cast<uintptr_t>(&vitals_line_info_test::OutOfLineCaller);
  // Walk the caller's first bytes until one lands in the inlined callee's code.
  std::vector<LineInfo::Frame> frames;
  bool found = false;
  for (uintptr_t pc = start; pc < start + 64 && !found; ++pc) {
    if (!info->Lookup(pc, &frames)) continue;
    found = frames.size() == 2 && frames[0].line == vitals_line_info_test::kCalleeLine;
  }
  INFO("frames at the last address: " << frames.size());
  REQUIRE(found);
  CHECK(frames[0].function.find("InlinedCallee") != std::string::npos);
  CHECK(frames[0].file.find("line_info_test.cc") != std::string::npos);
  INFO("outer frame: \"" << frames[1].function << "\" " << frames[1].file << ":" << frames[1].line);
  CHECK(frames[1].function.find("OutOfLineCaller") != std::string::npos);
  CHECK(frames[1].line == vitals_line_info_test::kCallLine);
  CHECK(frames[1].file.find("line_info_test.cc") != std::string::npos);
}

TEST_CASE("an address outside any object has no position", "[symbols]") {
  auto info = LineInfo::ForThisProcess();
  REQUIRE(info != nullptr);
  std::vector<LineInfo::Frame> frames{{"stale", "x", 1}};
  CHECK(!info->Lookup(1, &frames));
  CHECK(frames.empty());
}

}  // namespace
