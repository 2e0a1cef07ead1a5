#include "vitals/rpc.h"

#include "absl/base/optimization.h"
#include "agent/requests/request_metrics.h"

namespace vitals {

RpcCallScope::RpcCallScope(const RpcMethodHandle& method) : scope_(method.route_) {
  scope_.set_status(kRpcOk);
  if (ABSL_PREDICT_FALSE(!method.valid())) return;
  entry_ = method.route_.route_;
  life_ = method.route_.life_;
  internal::RequestMetrics::CountStarted(entry_);
}

void RpcCallScope::MessageReceived(int64_t bytes) {
  ++received_;
  if (entry_ != nullptr && internal::AgentAlive(life_)) {
    internal::RequestMetrics::RecordMessage(entry_, internal::kRpcReceived, bytes);
  }
}

void RpcCallScope::MessageSent(int64_t bytes) {
  ++sent_;
  if (entry_ != nullptr && internal::AgentAlive(life_)) {
    internal::RequestMetrics::RecordMessage(entry_, internal::kRpcSent, bytes);
  }
}

absl::Duration RpcCallScope::Finish() {
  if (entry_ == nullptr) return scope_.Finish();  // nothing to record (or done already)
  if (internal::AgentAlive(life_)) {
    internal::RequestMetrics::RecordMessageCounts(entry_, received_, sent_);
  }
  entry_ = nullptr;
  return scope_.Finish();
}

}  // namespace vitals
