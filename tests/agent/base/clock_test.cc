// The TSC clock: when it is trusted, how far it drifts from steady_clock, and that the agent
// falls back to steady_clock when told to.

#include <catch2/catch.hpp>
#include <chrono>
#include <thread>

#include "agent/base/tsc_clock.h"
#include "tests/support/fakes.h"
#include "vitals/agent.h"

namespace {

using vitals::internal::TscTrusted;

TEST_CASE("the TSC is trusted when invariant and trusted by the kernel, kvm-clock included",
          "[clock]") {
  const char* invariant = "flags\t\t: fpu tsc constant_tsc rep_good nopl nonstop_tsc cpuid";
  const char* reliable = "flags\t\t: fpu tsc constant_tsc nonstop_tsc tsc_reliable cpuid";
  const char* known = "flags\t\t: fpu tsc constant_tsc nonstop_tsc tsc_known_freq";
  const char* variant = "flags\t\t: fpu tsc rep_good nopl cpuid tsc_reliable";
  // The kernel's own clocksource is the TSC.
  CHECK(TscTrusted(invariant, "tsc", "tsc hpet acpi_pm"));
  // The usual cloud VM: kvm-clock, with an invariant TSC the kernel marks reliable or of known
  // frequency and keeps available.
  CHECK(TscTrusted(reliable, "kvm-clock", "kvm-clock tsc acpi_pm"));
  CHECK(TscTrusted(known, "kvm-clock\n", "tsc kvm-clock\n"));
  // Not trusted: a TSC the kernel dropped as unstable, an invariant one it says nothing about,
  // and one that is not invariant.
  CHECK_FALSE(TscTrusted(reliable, "kvm-clock", "kvm-clock acpi_pm"));
  CHECK_FALSE(TscTrusted(invariant, "kvm-clock", "kvm-clock tsc acpi_pm"));
  CHECK_FALSE(TscTrusted(variant, "tsc", "tsc"));
  CHECK_FALSE(TscTrusted("", "", ""));
}

#ifdef VITALS_HAVE_TSC
TEST_CASE("the TSC clock drifts less than 0.1% from steady_clock over a second", "[clock]") {
  vitals::internal::TscClock tsc;
  const auto s0 = std::chrono::steady_clock::now();
  const int64_t t0 = tsc.NowNanos();
  std::this_thread::sleep_for(std::chrono::seconds(1));  // a measured interval, not a race
  const int64_t t1 = tsc.NowNanos();
  const auto s1 = std::chrono::steady_clock::now();
  const double steady = std::chrono::duration<double, std::nano>(s1 - s0).count();
  const double measured = static_cast<double>(t1 - t0);
  INFO("steady " << steady << " ns, tsc " << measured << " ns");
  CHECK(std::abs(measured - steady) / steady < 0.001);
  CHECK(tsc.name() == "tsc");
}
#endif

TEST_CASE("the default clock is the TSC exactly when trusted: fast_clock=false forces steady",
          "[clock]") {
  const bool trusted = vitals::internal::TscTrustedHere();
  CHECK(vitals::Clock::Default().name() == (trusted ? "tsc" : "steady_clock"));
  vitals::Options o = vitals_test::QuietOptions();
  o.fast_clock = false;
  vitals::Agent slow(o);
  CHECK(&slow.clock() == &vitals::Clock::Steady());
  CHECK(slow.clock().name() == "steady_clock");
  vitals::Agent fast(vitals_test::QuietOptions());
  CHECK(&fast.clock() == &vitals::Clock::Default());
}

}  // namespace
