#include "agent/upstream/upstream_metrics.h"

#include <algorithm>
#include <charconv>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "agent/core/family_spec.h"
#include "agent/core/names.h"
#include "agent/core/text_escape.h"

namespace vitals {
namespace internal {
namespace {

// The status code as label text, or empty for none (a negative status).
absl::string_view StatusText(int status, char (&buf)[16]) {
  if (status < 0) return {};
  auto r = std::to_chars(buf, buf + sizeof buf, status);
  return absl::string_view(buf, static_cast<size_t>(r.ptr - buf));
}
}  // namespace

absl::StatusOr<std::unique_ptr<UpstreamMetrics>> UpstreamMetrics::Create(
    Registry& registry, std::vector<double> buckets, const Clock* clock, size_t limit,
    const std::atomic<uint32_t>* idle_epoch, UpstreamKind kind) {
  Family *duration = nullptr, *active = nullptr;
  Family* extras[kUpstreamExtras] = {};
  absl::Status s;
  if (kind == UpstreamKind::kRpc) {
    s = CreateFamilies(
        registry,
        {
            {&duration,
             "rpc_client_call_duration_seconds",
             "Duration of RPC client calls, from the call's start to its status (a stream's "
             "whole life), by RPC system, method, server address and port, status code and "
             "error type (OpenTelemetry's rpc.client.call.duration, semantic conventions "
             "v1.45.0).",
             MetricType::kHistogram,
             {"rpc_system_name", "rpc_method", "server_address", "server_port", "rpc_status_code",
              "error_type"},
             std::move(buckets)},
            {&active,
             "vitals_rpc_client_active_calls",
             "RPC client calls in flight right now, by RPC system, method, server address and "
             "port.",
             MetricType::kGauge,
             {"rpc_system_name", "rpc_method", "server_address", "server_port"}},
        },
        /*expirable=*/idle_epoch != nullptr);
    if (!s.ok()) return s;
    s = CreateRpcExtras(registry, idle_epoch != nullptr, extras);
  } else {
    s = CreateFamilies(
        registry,
        {
            {&duration,
             "http_client_request_duration_seconds",
             "Duration of HTTP client requests to upstream services, by method, server address "
             "and port, status code and error type.",
             MetricType::kHistogram,
             {"http_request_method", "server_address", "server_port", "http_response_status_code",
              "error_type"},
             std::move(buckets)},
            {&active,
             "http_client_active_requests",
             "HTTP client requests to upstream services in flight right now.",
             MetricType::kGauge,
             {"http_request_method", "server_address", "server_port"}},
        },
        /*expirable=*/idle_epoch != nullptr);
  }
  if (!s.ok()) return s;
  if (idle_epoch != nullptr) {
    duration->set_idle_swept_by_owner();
    active->set_idle_swept_by_owner();
    if (s = duration->ExpireIdle(idle_epoch); !s.ok()) return s;
    if (s = active->ExpireIdle(idle_epoch, /*only_at_zero=*/true); !s.ok()) return s;
    for (Family* f : extras) {
      if (f == nullptr) continue;
      f->set_idle_swept_by_owner();
      if (s = f->ExpireIdle(idle_epoch); !s.ok()) return s;
    }
  }
  std::unique_ptr<UpstreamMetrics> m(
      new UpstreamMetrics(kind, duration, active, clock, limit, idle_epoch));
  for (int i = 0; i < kUpstreamExtras; ++i) m->extras_[i] = extras[i];
  if (extras[0] != nullptr) {
    UpstreamEntry& overflow = m->table_.overflow();
    for (int i = 0; i < kUpstreamExtras; ++i) {
      overflow.extras[i].Fill(extras[i]->overflow_series_unmarked(), 0);  // never removed
    }
  }
  return m;
}

absl::Status UpstreamMetrics::CreateRpcExtras(Registry& registry, bool expirable,
                                              Family* (&extras)[kUpstreamExtras]) {
  const std::vector<std::string> labels = {"rpc_system_name", "rpc_method", "server_address",
                                           "server_port"};
  return CreateFamilies(
      registry,
      {{&extras[kStartedCalls], "vitals_rpc_client_calls_started_total",
        "RPC client calls started, by RPC system, method, server address and port (gRPC's "
        "grpc.client.attempt.started, per call).",
        MetricType::kCounter, labels},
       {&extras[kReceivedPerCall], "rpc_client_responses_per_rpc",
        "Messages received per RPC client call (OpenTelemetry's rpc.client.responses_per_rpc, "
        "semantic conventions v1.37.0).",
        MetricType::kHistogram, labels, MessagesPerCallBuckets()},
       {&extras[kSentPerCall], "rpc_client_requests_per_rpc",
        "Messages sent per RPC client call (OpenTelemetry's rpc.client.requests_per_rpc, "
        "semantic conventions v1.37.0).",
        MetricType::kHistogram, labels, MessagesPerCallBuckets()},
       {&extras[kReceivedBytes], "rpc_client_response_size_bytes",
        "Size of each message an RPC client call received, serialized and uncompressed "
        "(OpenTelemetry's rpc.client.response.size, semantic conventions v1.37.0).",
        MetricType::kHistogram, labels, ByteSizeBuckets()},
       {&extras[kSentBytes], "rpc_client_request_size_bytes",
        "Size of each message an RPC client call sent, serialized and uncompressed "
        "(OpenTelemetry's rpc.client.request.size, semantic conventions v1.37.0).",
        MetricType::kHistogram, labels, ByteSizeBuckets()}},
      expirable);
}

void UpstreamMetrics::AddExtra(UpstreamEntry* entry, UpstreamExtra which, double value) {
  Family* family = extras_[which];
  if (family == nullptr) return;
  MarkCalled(entry);
  uint32_t gen = 0;
  Series* series = CachedOrFound(family, entry->extras[which], *entry, &gen);
  if (which == kStartedCalls) {
    AddToCellChecked(*series, gen, value);
  } else {
    ObserveIntoChecked(*series, gen, value);
  }
}

UpstreamMetrics::UpstreamMetrics(UpstreamKind kind, Family* duration, Family* active,
                                 const Clock* clock, size_t limit,
                                 const std::atomic<uint32_t>* idle_epoch)
    : kind_(kind),
      duration_(duration),
      active_(active),
      clock_(clock),
      idle_epoch_(idle_epoch),
      table_(limit, /*removable=*/idle_epoch != nullptr) {
  UpstreamEntry& overflow = table_.overflow();
  overflow.method = overflow.address = overflow.port = std::string(kOverflowLabelValue);
  if (kind_ == UpstreamKind::kRpc) overflow.system = std::string(kOverflowLabelValue);
  overflow.label = "(other peers)";
  overflow.overflow = true;
  overflow.active.Fill(active_->overflow_series_unmarked(), 0);  // never removed
}

absl::Span<const absl::string_view> UpstreamMetrics::KeyOf(const UpstreamEntry& entry,
                                                           absl::string_view (&key)[4]) const {
  if (kind_ == UpstreamKind::kRpc) {
    key[0] = entry.system;
    key[1] = entry.method;
    key[2] = entry.address;
    key[3] = entry.port;
    return absl::MakeConstSpan(key, 4);
  }
  key[0] = entry.method;
  key[1] = entry.address;
  key[2] = entry.port;
  return absl::MakeConstSpan(key, 3);
}

UpstreamEntry* UpstreamMetrics::Acquire(absl::string_view method, absl::string_view address,
                                        int port, absl::string_view system) {
  char buf[16];
  const bool rpc = kind_ == UpstreamKind::kRpc;
  const absl::string_view key_storage[4] = {system, rpc ? method : NormalizeMethod(method), address,
                                            StatusText(port, buf)};
  const absl::Span<const absl::string_view> key =
      rpc ? absl::MakeConstSpan(key_storage, 4) : absl::MakeConstSpan(key_storage + 1, 3);
  return table_.Find(
      key,
      [&] {
        auto entry = std::make_unique<UpstreamEntry>();
        if (rpc) entry->system = RepairUtf8(system, kMaxLabelValueBytes);
        entry->method = RepairUtf8(key_storage[1], kMaxLabelValueBytes);
        entry->address = RepairUtf8(address, kMaxLabelValueBytes);
        entry->port = std::string(key_storage[3]);
        entry->label = absl::StrCat(entry->method, " ", entry->address, ":", entry->port);
        uint32_t gen = 0;
        Series* active = active_->Find(key, &gen);
        entry->active.Fill(active, gen);  // published with the entry
        if (idle_epoch_ != nullptr) {
          entry->last_epoch.store(idle_epoch_->load(std::memory_order_relaxed));
        }
        return entry;
      },
      [this] {
        duration_->NoteOverflow();
        active_->NoteOverflow();
        active_->overflow_series();  // marks it used, so it is emitted
        for (Family* f : extras_) {
          if (f == nullptr) continue;
          f->NoteOverflow();
          f->overflow_series();
        }
      },
      [this](UpstreamEntry* entry) {
        Pin(entry);
        MarkCalled(entry);  // a fresh handle: not idle
      });
}

Series* UpstreamMetrics::SeriesFor(UpstreamEntry* entry, int status, absl::string_view error_type,
                                   uint32_t* gen) {
  if (entry->overflow) {
    Series* s = duration_->overflow_series();
    *gen = s->generation.load(std::memory_order_relaxed);  // never removed
    return s;
  }
  char buf[16];
  if (kind_ == UpstreamKind::kRpc) {
    const absl::string_view values[6] = {
        entry->system,
        entry->method,
        entry->address,
        entry->port,
        status < 0 ? absl::string_view() : GrpcCodeName(status, buf),
        error_type};
    return duration_->Find(values, gen);
  }
  const absl::string_view values[5] = {entry->method, entry->address, entry->port,
                                       StatusText(status, buf), error_type};
  return duration_->Find(values, gen);
}

Series* UpstreamMetrics::StatusSeries(UpstreamEntry* entry, int status, uint32_t* gen) {
  if (Series* s = entry->by_status.Find(status, gen)) return s;
  char buf[16];
  // OpenTelemetry: a client-side error status (>= 400) is also the call's error type; for
  // gRPC every code but OK is (its name).
  const absl::string_view error_type = kind_ == UpstreamKind::kRpc
                                           ? (status != 0 ? GrpcCodeName(status, buf) : "")
                                           : (status >= 400 ? StatusText(status, buf) : "");
  Series* series = SeriesFor(entry, status, error_type, gen);
  CacheIfCurrent(series, *gen, [&] { entry->by_status.Remember(status, series, *gen); });
  return series;
}

void UpstreamMetrics::Record(UpstreamEntry* entry, int status, int64_t nanos) {
  MarkCalled(entry);
  uint32_t gen = 0;
  Series* series = nullptr;
  if (status >= 0) {
    series = StatusSeries(entry, status, &gen);
  } else {
    series = SeriesFor(entry, status, "", &gen);
  }
  ObserveIntoChecked(*series, gen, ObservedSeconds(nanos));
}

void UpstreamMetrics::RecordError(UpstreamEntry* entry, absl::string_view error_type,
                                  int64_t nanos) {
  MarkCalled(entry);
  error_type = ErrorTypeLabel(error_type);
  uint32_t gen = 0;
  // A slot probe, as for statuses: no label hash, and no count on the family table's line
  // (which a lookup in an expiring family takes) per call.
  Series* series = entry->by_error.Find(error_type, &gen);
  if (series == nullptr) {
    series = SeriesFor(entry, -1, error_type, &gen);
    CacheIfCurrent(series, gen, [&] { entry->by_error.Remember(error_type, series, gen); });
  }
  ObserveIntoChecked(*series, gen, ObservedSeconds(nanos));
}

ActiveSeries UpstreamMetrics::AddActive(UpstreamEntry* entry, double delta) {
  MarkCalled(entry);
  ActiveSeries active;
  active.series = CachedOrFound(active_, entry->active, *entry, &active.gen);
  AddActiveTo(active, delta);
  return active;
}

Series* UpstreamMetrics::CachedOrFound(Family* family, CachedSeries& cached,
                                       const UpstreamEntry& entry, uint32_t* gen) {
  Series* series = cached.Read(gen);
  if (series == nullptr) {  // not made yet, or cleared by a sweep: found again
    absl::string_view key[4];
    series = family->Find(KeyOf(entry, key), gen);
    CacheIfCurrent(series, *gen, [&] { cached.Fill(series, *gen); });
  }
  return series;
}

void UpstreamMetrics::SweepIdle(int64_t now, int64_t ttl) {
  if (idle_epoch_ == nullptr) return;
  internal::MutexLock lock(&mu_);
  // The series first: clear every cached pointer to a candidate, then remove it (the family
  // checks again that nothing recorded meanwhile). No pointer is cached again before the
  // removal: caching takes mu_.
  // Every family of this kind: the duration, the active calls, and kRpc's extras.
  std::vector<Family*> families = {duration_, active_};
  for (Family* f : extras_) {
    if (f != nullptr) families.push_back(f);
  }
  std::vector<std::vector<Series*>> idle;
  absl::flat_hash_set<const Series*> going;
  for (Family* f : families) {
    idle.push_back(f->IdleSeries(now, ttl));
    going.insert(idle.back().begin(), idle.back().end());
  }
  if (!going.empty()) {
    auto clear = [&](UpstreamEntry& e) {
      auto gone = [&](const Series* s) { return going.contains(s); };
      e.by_status.Clear(gone);
      e.by_error.Clear(gone);
      e.active.ClearIf(gone);
      for (CachedSeries& x : e.extras) x.ClearIf(gone);
    };
    table_.ForEach(clear);
    for (const auto& e : held_) clear(*e);
    for (const auto& e : unlinked_) clear(*e);
    for (size_t i = 0; i < families.size(); ++i) families[i]->ExpireSeries(idle[i]);
  } else {
    for (Family* f : families) f->Reclaim();
  }
  SweepEntries(now, ttl);
}

void UpstreamMetrics::SweepEntries(int64_t now, int64_t ttl) {
  const uint32_t epoch = idle_epoch_->load(std::memory_order_relaxed);
  auto recent = [&](const UpstreamEntry& e) {
    return epoch - e.last_epoch.load(std::memory_order_relaxed) <= 1;
  };
  auto idle = [&](UpstreamEntry& e) {
    if (recent(e) || e.idle_seen == 0) {
      e.idle_seen = now;
      return false;
    }
    return now - e.idle_seen >= ttl;
  };
  // No handle points to it and no call is in flight on it (a ClientCallScope raised its
  // active-calls series, which is not removed while it reads anything but 0).
  auto quiet = [&](const UpstreamEntry& e) {
    if (e.handles.load(std::memory_order_seq_cst) != 0) return false;
    const Series* a = e.active.Read(nullptr);
    return a == nullptr || Family::ReadValue(a) == 0;
  };
  // Freed: entries whose requests in flight at their retirement have all ended.
  retired_.erase(std::remove_if(retired_.begin(), retired_.end(),
                                [](const Retired& r) { return r.requests.AllEnded(); }),
                 retired_.end());
  auto retire = [&](std::vector<std::unique_ptr<UpstreamEntry>>& from, auto&& ready) {
    Retired batch;
    for (auto it = from.begin(); it != from.end();) {
      if (ready(**it)) {
        batch.entries.push_back(std::move(*it));
        it = from.erase(it);
      } else {
        ++it;
      }
    }
    if (batch.entries.empty()) return;
    batch.requests = InFlightRequests::Now();
    retired_.push_back(std::move(batch));
  };
  // Unlinked by an earlier sweep, and no lookup that may have found them is left: any handle
  // made from such a lookup is counted by now. Those still quiet retire; the others are held.
  if (!unlinked_.empty() && table_.NoReaders()) {
    retire(unlinked_, [&](UpstreamEntry& e) { return quiet(e) && !recent(e); });
    for (auto& e : unlinked_) held_.push_back(std::move(e));
    unlinked_.clear();
  }
  // Held entries whose handles have gone and that stayed idle since.
  retire(held_, [&](UpstreamEntry& e) { return idle(e) && quiet(e); });
  // Idle entries of the table: out of it (a later lookup of their key makes a new one).
  for (std::unique_ptr<UpstreamEntry>& e :
       table_.UnlinkIf([&](UpstreamEntry& e) { return idle(e) && quiet(e); })) {
    unlinked_.push_back(std::move(e));
  }
}

size_t UpstreamMetrics::retired_entries() {
  internal::MutexLock lock(&mu_);
  size_t n = unlinked_.size() + held_.size();
  for (const Retired& r : retired_) n += r.entries.size();
  return n;
}

}  // namespace internal
}  // namespace vitals
