#include "vitals/client.h"

#include "absl/base/optimization.h"
#include "agent/upstream/upstream_metrics.h"

namespace vitals {

void UpstreamHandle::Record(int status, absl::Duration duration) const {
  if (ABSL_PREDICT_TRUE(valid()))
    metrics_->Record(entry_, status, absl::ToInt64Nanoseconds(duration));
}

void UpstreamHandle::RecordError(absl::string_view error_type, absl::Duration duration) const {
  if (ABSL_PREDICT_TRUE(valid())) {
    metrics_->RecordError(entry_, error_type, absl::ToInt64Nanoseconds(duration));
  }
}

void UpstreamHandle::AddActive(double delta) const {
  if (ABSL_PREDICT_TRUE(valid())) internal::AddToSeries(*entry_->active, delta);
}

ClientCallScope::ClientCallScope(const UpstreamHandle& upstream) : upstream_(upstream) {
  if (!upstream_.valid()) {
    done_ = true;
    return;
  }
  upstream_.AddActive(1.0);
  start_ = upstream_.metrics_->clock().NowNanos();
}

absl::Duration ClientCallScope::Finish() {
  if (done_) return absl::ZeroDuration();
  done_ = true;
  if (ABSL_PREDICT_FALSE(!upstream_.valid())) return absl::ZeroDuration();  // the agent is gone
  const int64_t nanos = upstream_.metrics_->clock().NowNanos() - start_;
  if (!error_.empty()) {
    upstream_.metrics_->RecordError(upstream_.entry_, error_, nanos);
  } else if (status_ >= 0) {
    upstream_.metrics_->Record(upstream_.entry_, status_, nanos);
  } else {
    upstream_.metrics_->RecordError(upstream_.entry_, kErrorOther, nanos);
  }
  upstream_.AddActive(-1.0);
  return absl::Nanoseconds(nanos);
}

}  // namespace vitals
