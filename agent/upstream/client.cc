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

UpstreamHandle::UpstreamHandle(const UpstreamHandle& other)
    : metrics_(other.metrics_), entry_(other.entry_), life_(other.life_) {
  if (valid()) internal::UpstreamMetrics::Pin(entry_);
}

UpstreamHandle& UpstreamHandle::operator=(const UpstreamHandle& other) {
  if (this == &other) return *this;
  if (other.valid()) internal::UpstreamMetrics::Pin(other.entry_);  // before: other may be us
  Unpin();
  metrics_ = other.metrics_;
  entry_ = other.entry_;
  life_ = other.life_;
  return *this;
}

UpstreamHandle::UpstreamHandle(UpstreamHandle&& other) noexcept
    : metrics_(other.metrics_), entry_(other.entry_), life_(other.life_) {
  other.entry_ = nullptr;
  other.life_ = 0;
}

UpstreamHandle& UpstreamHandle::operator=(UpstreamHandle&& other) noexcept {
  if (this == &other) return *this;
  Unpin();
  metrics_ = other.metrics_;
  entry_ = other.entry_;
  life_ = other.life_;
  other.entry_ = nullptr;
  other.life_ = 0;
  return *this;
}

UpstreamHandle::~UpstreamHandle() { Unpin(); }

void UpstreamHandle::Unpin() {
  // Once the agent is gone its entries are too: nothing to give back.
  if (valid()) internal::UpstreamMetrics::Release(entry_);
  entry_ = nullptr;
  life_ = 0;
}

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
  if (ABSL_PREDICT_TRUE(valid())) metrics_->AddActive(entry_, delta);
}

ClientCallScope::ClientCallScope(const UpstreamHandle& upstream)
    : metrics_(upstream.metrics_), entry_(upstream.entry_), life_(upstream.life_) {
  if (!internal::AgentAlive(life_)) {
    done_ = true;
    return;
  }
  const internal::ActiveSeries active = metrics_->AddActive(entry_, 1.0);
  active_ = active.series;
  active_gen_ = active.gen;
  start_ = metrics_->clock().NowNanos();
}

absl::Duration ClientCallScope::Finish() {
  if (done_) return absl::ZeroDuration();
  done_ = true;
  if (ABSL_PREDICT_FALSE(!internal::AgentAlive(life_))) return absl::ZeroDuration();  // gone
  const int64_t end = metrics_->clock().NowNanos();
  const int64_t nanos = end - start_;
  if (!error_.empty()) {
    metrics_->RecordError(entry_, error_, nanos);
  } else if (status_ >= 0) {
    metrics_->Record(entry_, status_, nanos);
  } else {
    metrics_->RecordError(entry_, kErrorOther, nanos);
  }
  // The same series the constructor raised: lowering another would leave both off by one.
  internal::UpstreamMetrics::AddActiveTo(internal::ActiveSeries{active_, active_gen_}, -1.0);
  if (internal::RequestDb* db = internal::ThreadCurrentRequest().Live(); db != nullptr) {
    db->LogCall(internal::CallKind::kOutbound, &entry_->label, start_, end);
  }
  return absl::Nanoseconds(nanos);
}

}  // namespace vitals
