#include "vitals/request.h"

#include "agent/agent_core.h"
#include "agent/request_metrics.h"
#include "vitals/agent.h"

namespace vitals {

void RouteHandle::Record(int status, absl::Duration duration) const {
  if (route_ != nullptr) metrics_->Record(route_, status, absl::ToInt64Nanoseconds(duration));
}

void RouteHandle::AddActive(double delta) const {
  if (route_ != nullptr) internal::AddF64(internal::ThreadCell(route_->active->cell), delta);
}

RequestScope::RequestScope(Agent& agent, absl::string_view method, absl::string_view route)
    : metrics_(&agent.core().requests()), route_(metrics_->FindRoute(method, route)) {
  internal::AddF64(internal::ThreadCell(route_->active->cell), 1.0);
  start_nanos_ = metrics_->clock().NowNanos();
}

RequestScope::RequestScope(const RouteHandle& route)
    : metrics_(route.metrics_), route_(route.route_) {
  if (route_ == nullptr) {
    done_ = true;
    return;
  }
  internal::AddF64(internal::ThreadCell(route_->active->cell), 1.0);
  start_nanos_ = metrics_->clock().NowNanos();
}

absl::Duration RequestScope::Finish() {
  if (done_) return absl::ZeroDuration();
  done_ = true;
  const int64_t nanos = metrics_->clock().NowNanos() - start_nanos_;
  metrics_->Record(route_, status_, nanos);
  internal::AddF64(internal::ThreadCell(route_->active->cell), -1.0);
  return absl::Nanoseconds(nanos);
}

void RequestScope::Cancel() {
  if (done_) return;
  done_ = true;
  internal::AddF64(internal::ThreadCell(route_->active->cell), -1.0);
}

}  // namespace vitals
