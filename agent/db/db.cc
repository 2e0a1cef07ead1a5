// vitals/db.h: DbOperation and RequestContext.

#include "vitals/db.h"

#include "agent/core/request_db.h"
#include "agent/db/db_metrics.h"

namespace vitals {

DbOperation::DbOperation(internal::DbMetrics* metrics, absl::string_view system,
                         absl::string_view statement)
    : metrics_(metrics),
      system_(system),
      statement_(statement),
      start_nanos_(metrics_ != nullptr ? metrics_->clock().NowNanos() : 0) {
  done_ = metrics_ == nullptr;
}

void DbOperation::Finish() {
  if (done_) return;
  done_ = true;
  metrics_->Record(system_, statement_, metrics_->clock().NowNanos() - start_nanos_);
}

RequestContext RequestContext::Current() {
  const internal::CurrentRequest& current = internal::ThreadCurrentRequest();
  RequestContext c;
  if (current.Live() != nullptr) {
    c.db_ = current.db;
    c.generation_ = current.generation;
  }
  return c;
}

bool RequestContext::active() const {
  return internal::CurrentRequest{db_, generation_}.Live() != nullptr;
}

RequestContext::Bind::Bind(const RequestContext& context) {
  internal::CurrentRequest& current = internal::ThreadCurrentRequest();
  saved_db_ = current.db;
  saved_generation_ = current.generation;
  current.db = context.db_;
  current.generation = context.generation_;
}

RequestContext::Bind::~Bind() {
  internal::CurrentRequest& current = internal::ThreadCurrentRequest();
  current.db = saved_db_;
  current.generation = saved_generation_;
}

}  // namespace vitals
