// agent/core/slow_request_listener.h: told when a request ends slow (at least the slow-request
// threshold). The profiling feature implements it (automatic profiles on slow-request bursts);
// the request feature calls it without knowing who listens. The root connects them.

#ifndef VITALS_AGENT_CORE_SLOW_REQUEST_LISTENER_H_
#define VITALS_AGENT_CORE_SLOW_REQUEST_LISTENER_H_

#include <cstdint>

#include "agent/core/request_db.h"

namespace vitals {
namespace internal {

class SlowRequestListener {
 public:
  virtual ~SlowRequestListener() = default;
  // On the thread that ends the request, after it is counted; `now_nanos` is the agent
  // clock's reading. `route` lives as long as the agent. Must not block: lock-free, and
  // without allocating, except once per burst it reacts to.
  virtual void SlowRequest(const RouteLabels& route, int64_t now_nanos) = 0;
};

}  // namespace internal
}  // namespace vitals

#endif  // VITALS_AGENT_CORE_SLOW_REQUEST_LISTENER_H_
