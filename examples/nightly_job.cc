// The README's push example: a batch job that is gone before Prometheus would scrape it, so
// the agent pushes everything to a Pushgateway (here at pushgateway:9091) instead of serving a
// port. Built with the project; point VITALS_PUSHGATEWAY_URL at a real Pushgateway to run it.

#include <iostream>

#include "vitals/agent.h"

namespace {

// The job's work: one timed step per invoice.
void SendInvoices(vitals::Agent& agent) {
  vitals::RouteHandle send = agent.Route("POST", "/invoices/send");
  for (int i = 0; i < 3; ++i) {
    vitals::RequestScope scope(send);
  }
}

}  // namespace

int main() {
  // [readme:push]
  vitals::Options options;
  options.http_enabled = false;  // push-only: opens no port
  options.pushgateway_url = "http://pushgateway:9091";
  options.job = "nightly-invoices";                   // default: the program's name
  options.push_grouping = {{"instance", "batch-7"}};  // default: {instance: host name}
  options.push_interval = absl::ZeroDuration();       // only on demand and at the end
  vitals::Agent agent(options);
  if (absl::Status s = agent.Start(); !s.ok()) std::cerr << s << "\n";
  SendInvoices(agent);
  if (absl::Status s = agent.Push(); !s.ok()) std::cerr << s << "\n";  // optional, at milestones
  // the final push happens on agent.Stop(), the destructor, or exit()
  // [/readme:push]
  return 0;
}
