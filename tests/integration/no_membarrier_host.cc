// A process whose seccomp filter refuses membarrier (as some container runtimes' do, and as
// kernels before 5.10 lack it): removed series cannot be reused here, so an agent with
// series_idle_ttl keeps idle series rather than expire them into ever more memory, and says
// why in its log. Run as its own ctest test (tests/CMakeLists.txt); exits 0 when every check
// holds, else prints the failed ones.

#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/syscall.h>

#include <cstdio>
#include <memory>
#include <string>

#include "absl/strings/match.h"
#include "agent/core/series_reclaim.h"
#include "agent/root/agent_access.h"
#include "tests/support/fakes.h"
#include "vitals/agent.h"
#include "vitals/client.h"

namespace {

int failures = 0;
void Check(bool ok, const char* what) {
  if (!ok) {
    std::printf("FAILED: %s\n", what);
    ++failures;
  }
}

// membarrier answers EPERM; every other system call is allowed.
bool RefuseMembarrier() {
  struct sock_filter filter[] = {
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_membarrier, 0, 1),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA)),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
  };
  struct sock_fprog program = {static_cast<unsigned short>(sizeof filter / sizeof filter[0]),
                               filter};
  return prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0 &&
         prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &program) == 0;
}

}  // namespace

int main() {
  if (!RefuseMembarrier()) {
    std::printf("FAILED: cannot install the seccomp filter\n");
    return 1;
  }
  auto sink = std::make_shared<vitals_test::CapturingSink>();
  vitals::Options o = vitals_test::QuietOptions();
  o.log_sink = sink;
  o.series_idle_ttl = absl::Seconds(1);
  vitals::Agent agent(o);
  std::string why;
  Check(!vitals::internal::CanReuseRemovedSeries(&why), "membarrier refused: no reuse");
  Check(absl::StrContains(why, "membarrier"), "the reason names membarrier");
  Check(sink->Contains("series_idle_ttl: idle series are kept"), "the agent logs it");
  vitals::internal::AgentImpl& impl = vitals::internal::AgentAccess::Impl(agent);
  Check(impl.options().series_idle_ttl == absl::ZeroDuration(), "expiry is off");
  auto family = agent.AddCounter("peer_calls_total", "Calls.", {"peer"});
  Check(family.ok() && family->ExpireIdleSeries().code() == absl::StatusCode::kFailedPrecondition,
        "a family cannot opt in");
  agent.Upstream("GET", "10.0.0.1", 80).Record(200, absl::Milliseconds(1));
  const int64_t hour = int64_t{3600} * 1000000000;
  for (int i = 0; i < 10; ++i) impl.SweepIdle(vitals::Clock::Default().NowNanos() + i * hour);
  Check(absl::StrContains(agent.RenderText(), "server_address=\"10.0.0.1\""),
        "the outbound series is kept");
  if (failures == 0) std::printf("no_membarrier_host: idle series kept, and the log says why\n");
  return failures == 0 ? 0 : 1;
}
