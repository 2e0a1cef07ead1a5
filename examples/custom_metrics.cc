// The README's examples of a service's own metrics: a histogram whose bounds come from a bucket
// helper, labels by name, a handle in one expression, removing a series, gauges and counters
// read by a callback at scrape time, and an info metric. Built with the project and run by its
// tests (it exits 0 when the exposition shows what each part set).

#include <cstdio>
#include <deque>
#include <iostream>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "vitals/agent.h"

namespace {

// A work queue of the service's own, with a lock: its depth is read at scrape time.
class JobQueue {
 public:
  void Push(std::string job) {
    std::lock_guard<std::mutex> lock(mu_);
    jobs_.push_back(std::move(job));
  }
  size_t size() const {
    std::lock_guard<std::mutex> lock(mu_);
    return jobs_.size();
  }

 private:
  mutable std::mutex mu_;
  std::deque<std::string> jobs_;
};

bool Shows(const std::string& body, const std::string& line) {
  const bool found = body.find("\n" + line + "\n") != std::string::npos;
  if (!found) std::fprintf(stderr, "custom_metrics: missing line: %s\n", line.c_str());
  return found;
}

}  // namespace

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

  // [readme:by_name]
  // Labels by name, in any order, checked against the family's label names.
  auto orders = agent.AddCounter("orders_placed_total", "Orders placed.", {"channel", "region"});
  absl::StatusOr<vitals::Counter> eu_web =
      orders->WithLabels({{"region", "eu"}, {"channel", "web"}});
  // Or the family and the series in one expression (the family is created on first use).
  absl::StatusOr<vitals::Counter> refunds =
      agent.GetCounter("orders_refunded_total", "Orders refunded.", {{"channel", "web"}});
  if (!eu_web.ok() || !refunds.ok()) return 1;
  eu_web->Increment();
  refunds->Increment();
  // [/readme:by_name]

  // [readme:remove]
  // A label value that is gone for good (a peer that left): remove its series. Handles to it
  // stay safe and record nothing; the label set asked for again starts from zero.
  auto peer_calls = agent.AddCounter("peer_calls_total", "Calls per peer.", {"peer"});
  vitals::Counter left = *peer_calls->WithLabels({"10.0.0.7"});
  left.Increment();
  if (absl::Status s = peer_calls->Remove({"10.0.0.7"}); !s.ok()) std::cerr << s << "\n";
  left.Increment();  // no effect
  // [/readme:remove]

  // [readme:expire]
  // Label values that come and go on their own (shards, tenants seen for a while): let series
  // nothing recorded into for series_idle_ttl (10 minutes) expire. Resolve where you record.
  auto shard_reads = agent.AddCounter("shard_reads_total", "Reads per shard.", {"shard"});
  if (absl::Status s = shard_reads->ExpireIdleSeries(); !s.ok()) std::cerr << s << "\n";
  if (auto shard = shard_reads->WithLabels({"s-17"}); shard.ok()) shard->Increment();
  // [/readme:expire]

  JobQueue queue;
  queue.Push("a");
  queue.Push("b");
  std::map<std::string, int> pool_connections = {{"main", 4}, {"batch", 1}};
  // [readme:callbacks]
  // Read at each scrape; the registrations unregister when destroyed.
  auto depth = agent.AddGaugeCallback("jobs_queued", "Jobs waiting.",
                                      [&queue] { return static_cast<double>(queue.size()); });
  // Several series of one family from one call.
  auto connections =
      agent.AddGaugeCallback("pool_open_connections", "Open connections per pool.", {"pool"},
                             [&pool_connections](vitals::CallbackObserver& observer) {
                               for (const auto& [pool, open] : pool_connections) {
                                 if (absl::Status s = observer.Observe(open, {pool}); !s.ok())
                                   return s;
                               }
                               return absl::OkStatus();
                             });
  if (!depth.ok() || !connections.ok()) std::cerr << "callbacks not registered\n";
  // [/readme:callbacks]

  // [readme:info]
  absl::Status info = agent.AddInfo("shop_build_info", "The shop's build.",
                                    {{"version", "2.4.1"}, {"commit", "9f1c2e7"}});
  if (!info.ok()) std::cerr << info << "\n";
  // [/readme:info]

  const std::string body = agent.RenderText();
  const bool shown = Shows(body, "report_job_seconds_bucket{kind=\"daily\",le=\"0.001\"} 0") &&
                     Shows(body, "report_job_seconds_bucket{kind=\"daily\",le=\"30\"} 1") &&
                     Shows(body, "orders_placed_total{channel=\"web\",region=\"eu\"} 1") &&
                     Shows(body, "orders_refunded_total{channel=\"web\"} 1") &&
                     Shows(body, "jobs_queued 2") &&
                     Shows(body, "pool_open_connections{pool=\"batch\"} 1") &&
                     Shows(body, "pool_open_connections{pool=\"main\"} 4") &&
                     Shows(body, "shop_build_info{version=\"2.4.1\",commit=\"9f1c2e7\"} 1") &&
                     Shows(body, "shard_reads_total{shard=\"s-17\"} 1") &&
                     body.find("peer_calls_total{") == std::string::npos;
  std::printf("custom_metrics: %s\n", shown ? "every part shown" : "a part NOT shown");
  return shown ? 0 : 1;
}
