// The README's example of a service's own metrics beyond counters: a histogram whose bounds come
// from a bucket helper. Built with the project and run by its tests (it exits 0 when the
// histogram shows the bounds it was given).

#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

#include "vitals/agent.h"

int main() {
  vitals::Agent agent;
  // [readme:buckets]
  // 12 bounds from 1 ms to 30 s, the same factor apart (or ExponentialBuckets(start, factor, n),
  // LinearBuckets(start, width, n)); InvalidArgument for arguments no histogram could use.
  absl::StatusOr<std::vector<double>> bounds = vitals::ExponentialBucketsRange(0.001, 30, 12);
  if (!bounds.ok()) std::cerr << bounds.status() << "\n";
  auto jobs = agent.AddHistogram("report_job_seconds", "Report job time.", *bounds, {"kind"});
  vitals::Histogram daily = *jobs->WithLabels({"daily"});
  daily.Observe(0.25);
  // [/readme:buckets]
  const std::string body = agent.RenderText();
  const bool shown =
      body.find("report_job_seconds_bucket{kind=\"daily\",le=\"0.001\"} 0") != std::string::npos &&
      body.find("report_job_seconds_bucket{kind=\"daily\",le=\"30\"} 1") != std::string::npos;
  std::printf("custom_metrics: %s\n", shown ? "bounds shown" : "bounds NOT shown");
  return shown ? 0 : 1;
}
