#include "agent/upstream/upstream_metrics.h"
#include "vitals/rpc.h"

// RpcClientCallScope: a ClientCallScope on an RPC upstream, plus the call's start and messages
// in the RPC kind's extra families (UpstreamMetrics::AddExtra).

namespace vitals {

RpcClientCallScope::RpcClientCallScope(const UpstreamHandle& upstream) : call_(upstream) {
  if (call_.done_) {  // no agent
    done_ = true;
    return;
  }
  call_.metrics_->AddExtra(call_.entry_, internal::kStartedCalls, 1.0);
}

void RpcClientCallScope::MessageSent(int64_t bytes) {
  ++sent_;
  if (!done_ && bytes >= 0 && internal::AgentAlive(call_.life_)) {
    call_.metrics_->AddExtra(call_.entry_, internal::kSentBytes, static_cast<double>(bytes));
  }
}

void RpcClientCallScope::MessageReceived(int64_t bytes) {
  ++received_;
  if (!done_ && bytes >= 0 && internal::AgentAlive(call_.life_)) {
    call_.metrics_->AddExtra(call_.entry_, internal::kReceivedBytes, static_cast<double>(bytes));
  }
}

absl::Duration RpcClientCallScope::Finish() {
  if (!done_) {
    done_ = true;
    // Before the call's own record: that lowers its active calls, after which the upstream's
    // bookkeeping may go.
    if (internal::AgentAlive(call_.life_)) {
      call_.metrics_->AddExtra(call_.entry_, internal::kSentPerCall, static_cast<double>(sent_));
      call_.metrics_->AddExtra(call_.entry_, internal::kReceivedPerCall,
                               static_cast<double>(received_));
    }
  }
  return call_.Finish();
}

}  // namespace vitals
