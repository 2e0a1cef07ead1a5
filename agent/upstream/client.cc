#include "vitals/client.h"

#include "absl/base/optimization.h"
#include "agent/core/request_db.h"
#include "agent/upstream/upstream_metrics.h"

namespace vitals {

namespace {
// A call known by its duration only: the request current on this thread counts it in its
// outbound time.
void LogForRequest(int64_t nanos) {
  internal::RequestDb* db = internal::ThreadCurrentRequest().Live();
  if (ABSL_PREDICT_FALSE(db != nullptr)) db->LogCallNanos(internal::CallKind::kOutbound, nanos);
}
}  // namespace

void UpstreamHandle::Record(int status, absl::Duration duration) const {
  if (ABSL_PREDICT_TRUE(valid())) {
    const int64_t nanos = absl::ToInt64Nanoseconds(duration);
    metrics_->Record(entry_, status, nanos);
    LogForRequest(nanos);
  }
}

void UpstreamHandle::RecordError(absl::string_view error_type, absl::Duration duration) const {
  if (ABSL_PREDICT_TRUE(valid())) {
    const int64_t nanos = absl::ToInt64Nanoseconds(duration);
    metrics_->RecordError(entry_, error_type, nanos);
    LogForRequest(nanos);
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
  const int64_t end = upstream_.metrics_->clock().NowNanos();
  const int64_t nanos = end - start_;
  if (!error_.empty()) {
    upstream_.metrics_->RecordError(upstream_.entry_, error_, nanos);
  } else if (status_ >= 0) {
    upstream_.metrics_->Record(upstream_.entry_, status_, nanos);
  } else {
    upstream_.metrics_->RecordError(upstream_.entry_, kErrorOther, nanos);
  }
  upstream_.AddActive(-1.0);
  if (internal::RequestDb* db = internal::ThreadCurrentRequest().Live(); db != nullptr) {
    db->LogCall(internal::CallKind::kOutbound, &upstream_.entry_->label, start_, end);
  }
  return absl::Nanoseconds(nanos);
}

}  // namespace vitals
