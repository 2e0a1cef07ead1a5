#include "agent/core/callback.h"

#include <cmath>
#include <memory>
#include <utility>

#include "absl/strings/str_cat.h"

namespace vitals {
namespace internal {

struct CallbackAccess {
  static CallbackObserver Observer(Family* family, uint64_t round, absl::Status* error) {
    return CallbackObserver(family, round, error);
  }
  static CallbackRegistration Registration(Registry* registry, Family* family, uint64_t id,
                                           uint64_t life) {
    return CallbackRegistration(registry, family, id, life);
  }
};

absl::StatusOr<CallbackRegistration> AddCallback(Registry& registry, absl::string_view name,
                                                 absl::string_view help, MetricType type,
                                                 std::vector<std::string> label_names,
                                                 ObserveFn fn) {
  if (!fn) return absl::InvalidArgumentError(absl::StrCat("metric \"", name, "\": no callback"));
  if (type != MetricType::kCounter && type != MetricType::kGauge) {
    return absl::InvalidArgumentError(
        absl::StrCat("metric \"", name, "\": callbacks give counters and gauges"));
  }
  absl::StatusOr<Family*> family = registry.GetOrCreate(name, help, type, std::move(label_names),
                                                        {}, 0, {}, FamilyKind::kCallback);
  if (!family.ok()) return family.status();
  Family* f = *family;
  if (!f->Own()) {
    return absl::AlreadyExistsError(absl::StrCat(
        "metric \"", name, "\" has a callback already; destroy its registration first"));
  }
  auto rounds = std::make_shared<uint64_t>(0);  // touched by the callback thread only
  const uint64_t id = registry.callbacks().Add(std::string(name), [f, fn = std::move(fn), rounds] {
    const uint64_t round = ++*rounds;
    absl::Status observe_error;
    CallbackObserver observer = CallbackAccess::Observer(f, round, &observe_error);
    absl::Status s = fn(observer);  // what it throws, the runner contains
    if (!s.ok()) return s;          // every series keeps its last value
    f->HideUnobserved(round);
    return observe_error;
  });
  return CallbackAccess::Registration(&registry, f, id, registry.life());
}

}  // namespace internal

absl::Status CallbackObserver::Observe(double value, absl::Span<const absl::string_view> values) {
  absl::StatusOr<internal::Series*> series = family_->Get(values);
  absl::Status s = series.status();
  if (series.ok()) {
    internal::Series* target = *series;
    target->observed_round = round_;
    if (family_->type() == internal::MetricType::kCounter && !(value >= 0)) {
      s = absl::InvalidArgumentError(absl::StrCat("counter \"", family_->name(), "\" given ", value,
                                                  "; it keeps its last value"));
    } else {
      internal::Family::SetValue(target, value);
      internal::Family::SetHidden(target, false);
    }
  }
  if (!s.ok() && error_->ok()) *error_ = s;
  return s;
}

CallbackRegistration& CallbackRegistration::operator=(CallbackRegistration&& other) noexcept {
  if (this != &other) {
    Reset();
    registry_ = other.registry_;
    family_ = other.family_;
    id_ = other.id_;
    life_ = other.life_;
    other.id_ = 0;
  }
  return *this;
}

void CallbackRegistration::Reset() {
  if (id_ == 0) return;
  if (internal::AgentAlive(life_)) {
    registry_->callbacks().Remove(id_);  // waits while it runs
    family_->Disown();
  }
  id_ = 0;
}

}  // namespace vitals
