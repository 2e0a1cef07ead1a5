#include "agent/base/series_ring.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace vitals {
namespace internal {

namespace {
constexpr double kAbsent = std::numeric_limits<double>::quiet_NaN();
}  // namespace

SeriesRing::SeriesRing(size_t capacity, size_t max_bytes)
    : capacity_(std::max<size_t>(capacity, 1)), max_bytes_(max_bytes) {
  times_.assign(capacity_, 0);
}

size_t SeriesRing::Slot(size_t age) const { return (next_ + capacity_ - 1 - age) % capacity_; }

void SeriesRing::Append(double time, const std::vector<std::pair<std::string, double>>& values) {
  internal::MutexLock lock(&mu_);
  const size_t slot = next_;
  const bool evicting = size_ == capacity_;
  // The slot's old values leave the window: a key whose last value that was is forgotten.
  for (auto it = series_.begin(); it != series_.end();) {
    Values& v = it->second;
    if (evicting && !std::isnan(v.ring[slot])) --v.present;
    v.ring[slot] = kAbsent;
    if (v.present == 0) {
      it = series_.erase(it);
    } else {
      ++it;
    }
  }
  times_[slot] = time;
  next_ = (next_ + 1) % capacity_;
  size_ = std::min(size_ + 1, capacity_);
  const size_t key_bytes = capacity_ * sizeof(double);
  for (const auto& [key, value] : values) {
    if (std::isnan(value)) continue;  // NaN means absent
    auto it = series_.find(key);
    if (it == series_.end()) {
      if ((series_.size() + 1) * key_bytes > max_bytes_) {
        ++refused_keys_;
        continue;
      }
      it = series_.emplace(key, Values{std::vector<double>(capacity_, kAbsent), 0}).first;
    }
    if (std::isnan(it->second.ring[slot])) ++it->second.present;
    it->second.ring[slot] = value;
  }
}

SeriesRing::Snapshot SeriesRing::Read() const {
  internal::MutexLock lock(&mu_);
  Snapshot snap;
  snap.refused_keys = refused_keys_;
  snap.times.reserve(size_);
  for (size_t age = size_; age-- > 0;) snap.times.push_back(times_[Slot(age)]);
  for (const auto& [key, v] : series_) {
    std::vector<double>& out = snap.series[key];
    out.reserve(size_);
    for (size_t age = size_; age-- > 0;) out.push_back(v.ring[Slot(age)]);
  }
  return snap;
}

size_t SeriesRing::bytes() const {
  internal::MutexLock lock(&mu_);
  return series_.size() * capacity_ * sizeof(double);
}

}  // namespace internal
}  // namespace vitals
