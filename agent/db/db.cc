// vitals/db.h: DbOperation and RequestContext.

#include "vitals/db.h"

#include "absl/base/optimization.h"
#include "agent/core/names.h"
#include "agent/core/request_db.h"
#include "agent/db/db_metrics.h"

namespace vitals {

DbOperation::DbOperation(internal::DbMetrics* metrics, uint64_t life, const DbTarget& target,
                         absl::string_view statement) {
  if (metrics == nullptr || !internal::AgentAlive(life)) {
    done_ = true;
    return;
  }
  const internal::DbMetrics::Call call = metrics->Resolve(target, statement);
  metrics_ = metrics;
  duration_ = call.duration;
  stats_ = call.stats;
  hash_ = call.hash;
  life_ = life;
  start_nanos_ = metrics->clock().NowNanos();
}

void DbOperation::set_error(absl::string_view error_type) {
  failed_ = true;
  const absl::string_view label = internal::ErrorTypeLabel(error_type);
  error_.assign(label.data(), label.size());
}

struct DbOperation::OwnedPlanInput {
  std::string statement;
  std::vector<PlanParam> params;
  std::vector<const char*> values;
  std::vector<int> lengths, formats;
  std::vector<unsigned int> types;
};

void DbOperation::set_plan_input_copy(absl::string_view statement, std::vector<PlanParam> params) {
  auto owned = std::make_shared<OwnedPlanInput>();
  owned->statement.assign(statement.data(), statement.size());
  owned->params = std::move(params);
  for (const PlanParam& p : owned->params) {
    owned->values.push_back(p.null ? nullptr : p.value.data());
    owned->lengths.push_back(static_cast<int>(p.value.size()));
    owned->formats.push_back(p.binary ? 1 : 0);
    owned->types.push_back(p.type);
  }
  const int count = static_cast<int>(owned->params.size());
  set_plan_input(owned->statement,
                 StatementParams{count, owned->values.data(), owned->lengths.data(),
                                 owned->formats.data(), owned->types.data()});
  owned_plan_ = std::move(owned);
}

void DbOperation::Finish() {
  if (done_) return;
  done_ = true;
  if (ABSL_PREDICT_FALSE(!internal::AgentAlive(life_))) return;  // the agent is gone
  const internal::PlanInput plan{plan_statement_, plan_params_};
  metrics_->Record(internal::DbMetrics::Call{duration_, stats_, hash_}, start_nanos_,
                   metrics_->clock().NowNanos(), failed_ ? error_ : "",
                   has_plan_input_ ? &plan : nullptr);
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
