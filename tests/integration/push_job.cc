// A short batch job for the Pushgateway tests: configured only by VITALS_* variables (push-only
// mode, a Pushgateway URL, a job name), it records a few requests, a cache and a counter, then
// ends. Prints "port P" (0 in push-only mode) and, after the final push, "push_failures N".
//
//   push_job            ends by returning from main (the agent's destructor pushes)
//   push_job --exit     ends with std::exit(0) and a live agent (the exit hook pushes)

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "vitals/agent.h"
#include "vitals/lru_cache.h"

namespace {

double Failures(vitals::Agent& agent) {
  const std::string body = agent.RenderText();
  const std::string key = "\nvitals_push_failures_total ";
  const size_t at = body.find(key);
  return at == std::string::npos ? -1 : std::atof(body.c_str() + at + key.size());
}

void Work(vitals::Agent& agent) {
  for (int i = 0; i < 10; ++i) agent.Record("GET", "/batch/step", 200, absl::Milliseconds(5 + i));
  vitals::LruCache<int, int>::Options o;
  o.max_entries = 4;
  vitals::LruCache<int, int> cache(agent, "batch", o);
  for (int i = 0; i < 12; ++i) {
    (void)cache.GetOrLoad(i % 6, [i] { return absl::StatusOr<int>(i); });
  }
  auto rows = agent.AddCounter("batch_rows_processed_total", "Rows the batch job processed.");
  if (rows.ok()) rows->WithLabels({})->Increment(1234);
}

}  // namespace

int main(int argc, char** argv) {
  const bool exit_without_stop = argc > 1 && std::strcmp(argv[1], "--exit") == 0;
  auto* agent = new vitals::Agent();
  if (absl::Status s = agent->Start(); !s.ok()) {
    std::fprintf(stderr, "push_job: %s\n", s.ToString().c_str());
    return 1;
  }
  std::printf("port %d\n", agent->port());
  std::fflush(stdout);
  Work(*agent);
  if (exit_without_stop) std::exit(0);  // the agent is never destroyed: the exit hook pushes
  agent->Stop();                        // the final push
  std::printf("push_failures %g\n", Failures(*agent));
  std::fflush(stdout);
  delete agent;
  return 0;
}
