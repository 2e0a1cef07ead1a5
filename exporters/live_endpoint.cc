#include "exporters/live_endpoint.h"

#include <cmath>
#include <limits>

#include "absl/strings/str_cat.h"
#include "agent/base/web_escape.h"
#include "agent/core/text_escape.h"
#include "agent/http/basic_auth.h"
#include "exporters/live_history.h"
#include "exporters/live_page/live_page.h"

namespace vitals {
namespace exporters {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

void AppendNumber(std::string& out, double v) {
  if (!std::isfinite(v)) {
    out += "null";  // JSON has no NaN or infinity
    return;
  }
  internal::AppendValue(out, v);  // shortest form that reads back the same; valid JSON
}

// NaN (no value at that point) and infinities are written as null.
void AppendNumbers(std::string& out, const std::vector<double>& values) {
  out += '[';
  for (size_t i = 0; i < values.size(); ++i) {
    if (i > 0) out += ',';
    AppendNumber(out, values[i]);
  }
  out += ']';
}

void AppendTime(std::string& out, absl::Time t) { AppendNumber(out, absl::ToUnixMicros(t) * 1e-6); }

// `"name":` then the value appender.
template <typename Fn>
void Field(std::string& out, bool& first, absl::string_view name, Fn&& value) {
  if (!first) out += ',';
  first = false;
  internal::AppendJsonString(out, name);
  out += ':';
  value();
}

template <typename T, typename Fn>
void Array(std::string& out, const std::vector<T>& items, Fn&& item) {
  out += '[';
  for (size_t i = 0; i < items.size(); ++i) {
    if (i > 0) out += ',';
    out += '{';
    bool first = true;
    item(items[i], first);
    out += '}';
  }
  out += ']';
}

void Str(std::string& out, bool& first, absl::string_view name, absl::string_view v) {
  Field(out, first, name, [&] { internal::AppendJsonString(out, v); });
}
void Num(std::string& out, bool& first, absl::string_view name, double v) {
  Field(out, first, name, [&] { AppendNumber(out, v); });
}
void At(std::string& out, bool& first, absl::string_view name, absl::Time t) {
  Field(out, first, name, [&] { AppendTime(out, t); });
}

}  // namespace

LiveEndpoint::LiveEndpoint(const Options& options, LiveSource* source,
                           ProfilingCheck profiling_allows)
    : basic_auth_(options.metrics_basic_auth),
      source_(source),
      profiling_allows_(std::move(profiling_allows)) {}

std::string LiveEndpoint::RenderJson(const LiveView& v) {
  std::string out = "{";
  bool first = true;
  Str(out, first, "schema", "vitals.json/1");
  At(out, first, "time", v.now);
  Str(out, first, "service", v.service);
  Str(out, first, "version", v.version);
  Field(out, first, "profiling", [&] {
    out += '{';
    bool f = true;
    Field(out, f, "enabled", [&] { out += v.profiling.enabled ? "true" : "false"; });
    Field(out, f, "allowed", [&] { out += v.profiling.allowed ? "true" : "false"; });
    Field(out, f, "auto", [&] { out += v.profiling.auto_enabled ? "true" : "false"; });
    out += '}';
  });
  const LiveTotals& t = v.totals;
  Field(out, first, "routes", [&] {
    Array(out, t.routes, [&](const LiveTotals::Route& r, bool& f) {
      Str(out, f, "kind", r.rpc ? "rpc" : "http");
      Str(out, f, "method", r.method);
      Str(out, f, "route", r.route);
      Num(out, f, "requests", r.requests);
      Num(out, f, "errors", r.errors);
      Num(out, f, "mean_seconds", r.requests > 0 ? r.seconds / r.requests : 0);
      Field(out, f, "time_seconds", [&] {
        out += '{';
        bool g = true;
        Num(out, g, "db", r.time_parts[0]);
        Num(out, g, "outbound", r.time_parts[1]);
        Num(out, g, "self", r.time_parts[2]);
        out += '}';
      });
      Num(out, f, "sequential_requests", r.sequential);
    });
  });
  Field(out, first, "memory", [&] {
    out += '{';
    bool f = true;
    Num(out, f, "rss_bytes", t.memory.rss);
    Num(out, f, "heap_bytes", t.memory.heap);
    Num(out, f, "heap_growth_bytes_per_second", t.memory.heap_growth);
    Str(out, f, "allocator", t.memory.allocator);
    Num(out, f, "cpu_seconds", t.memory.cpu_seconds);
    Num(out, f, "threads", t.memory.threads);
    Num(out, f, "open_fds", t.memory.open_fds);
    out += '}';
  });
  Field(out, first, "upstreams", [&] {
    Array(out, t.upstreams, [&](const LiveTotals::Upstream& u, bool& f) {
      Str(out, f, "peer", u.peer);
      Num(out, f, "calls", u.calls);
      Num(out, f, "errors", u.errors);
      // Since the start; the history has the recent p99 (upstream:<peer>:p99).
      Num(out, f, "p99_seconds", BucketQuantile(0.99, t.upstream_bucket_bounds, u.buckets));
    });
  });
  Field(out, first, "breakers", [&] {
    Array(out, t.breakers, [&](const LiveTotals::Breaker& b, bool& f) {
      Str(out, f, "name", b.name);
      Str(out, f, "state", b.state);
      Num(out, f, "failure_rate_percent", b.failure_rate);
      Num(out, f, "not_permitted", b.not_permitted);
    });
  });
  Field(out, first, "executors", [&] {
    Array(out, t.executors, [&](const LiveTotals::Executor& e, bool& f) {
      Str(out, f, "name", e.name);
      Num(out, f, "active", e.active);
      Num(out, f, "pool_size", e.pool_size);
      Num(out, f, "queued", e.queued);
      Num(out, f, "completed", e.completed);
      Num(out, f, "stalled", e.stalled);
      Num(out, f, "waits", e.waits);
      Num(out, f, "mean_wait_seconds", e.waits > 0 ? e.wait_seconds / e.waits : 0);
    });
  });
  Num(out, first, "series_total", v.series_total);
  Field(out, first, "series_budget", [&] {
    Array(out, v.series_budget, [&](const LiveView::SeriesBudget& b, bool& f) {
      Str(out, f, "metric", b.metric);
      Num(out, f, "series", b.series);
      Num(out, f, "limit", b.limit);
      Num(out, f, "overflowed", b.overflowed);
      Num(out, f, "expired", b.expired);  // null: the family keeps its series
    });
  });
  Field(out, first, "threads", [&] {
    out += '{';
    bool f = true;
    Num(out, f, "count", v.threads.count);
    Num(out, f, "window_seconds", v.threads.window_seconds);
    Field(out, f, "busiest", [&] {
      Array(out, v.threads.busiest, [&](const LiveView::Thread& th, bool& g) {
        Num(out, g, "tid", th.tid);
        Str(out, g, "name", th.name);
        Num(out, g, "cpu_seconds", th.cpu_seconds);
        Num(out, g, "cpu_percent", th.cpu_share * 100);
      });
    });
    out += '}';
  });
  Field(out, first, "caches", [&] {
    Array(out, t.caches, [&](const LiveTotals::Cache& c, bool& f) {
      Str(out, f, "name", c.name);
      Num(out, f, "hits", c.hits);
      Num(out, f, "misses", c.misses);
      Num(out, f, "hit_ratio",
          c.hits + c.misses > 0 ? c.hits / (c.hits + c.misses) : LiveTotals::kUnknown);
      Num(out, f, "size", c.size);
      Num(out, f, "max_size", c.max_size);
      Num(out, f, "evictions", c.evictions);
      Num(out, f, "evictions_unused", c.evictions_unused);
    });
  });
  Field(out, first, "pools", [&] {
    Array(out, t.pools, [&](const LiveTotals::Pool& p, bool& f) {
      Str(out, f, "name", p.name);
      Num(out, f, "used", p.used);
      Num(out, f, "idle", p.idle);
      Num(out, f, "max", p.max);
      Num(out, f, "pending", p.pending);
      Num(out, f, "timeouts", p.timeouts);
      Num(out, f, "waits", p.waits);
      Num(out, f, "mean_wait_seconds", p.waits > 0 ? p.wait_seconds / p.waits : 0);
    });
  });
  Field(out, first, "in_flight", [&] {
    out += '{';
    bool f = true;
    Num(out, f, "requests", v.in_flight.count);
    Num(out, f, "oldest_seconds", v.in_flight.oldest_seconds);
    out += '}';
  });
  Num(out, first, "slow_requests_total", static_cast<double>(v.slow_requests_total));
  Field(out, first, "slow_requests", [&] {
    Array(out, v.slow_requests, [&](const LiveView::SlowRequest& r, bool& f) {
      At(out, f, "time", r.at);
      Str(out, f, "method", r.method);
      Str(out, f, "route", r.route);
      Num(out, f, "status", r.status);
      if (!r.status_name.empty()) Str(out, f, "status_name", r.status_name);
      Num(out, f, "seconds", r.seconds);
    });
  });
  Field(out, first, "db_statements", [&] {
    Array(out, v.statements, [&](const LiveView::Statement& s, bool& f) {
      Str(out, f, "system", s.system);
      Str(out, f, "statement", s.text);
      Str(out, f, "table", s.table);
      Num(out, f, "calls", s.calls);
      Num(out, f, "total_seconds", s.total_seconds);
      Num(out, f, "mean_seconds", s.calls > 0 ? s.total_seconds / s.calls : 0);
      Num(out, f, "max_seconds", s.max_seconds);
      Field(out, f, "plan", [&] {
        if (!s.plan.has_value()) {
          out += "null";
          return;
        }
        const LiveView::Statement::Plan& p = *s.plan;
        out += '{';
        bool pf = true;
        At(out, pf, "time", p.at);
        Str(out, pf, "top", p.top);
        Str(out, pf, "error", p.error);
        // The plan as the database gave it, cut at 16 KiB here (the agent keeps 64 KiB).
        Str(out, pf, "text", absl::string_view(p.text).substr(0, 16 * 1024));
        Field(out, pf, "index_candidates", [&] {
          Array(out, p.candidates, [&](const LiveView::Statement::Plan::Candidate& c, bool& cf) {
            Str(out, cf, "table", c.table);
            Field(out, cf, "columns", [&] {
              out += '[';
              for (size_t i = 0; i < c.columns.size(); ++i) {
                if (i > 0) out += ',';
                internal::AppendJsonString(out, c.columns[i]);
              }
              out += ']';
            });
            Num(out, cf, "plan_rows", c.plan_rows);
            if (c.table_rows >= 0) {
              Num(out, cf, "table_rows", c.table_rows);
            } else {
              Field(out, cf, "table_rows", [&] { out += "null"; });
            }
          });
        });
        out += '}';
      });
    });
  });
  Field(out, first, "n_plus_one", [&] {
    Array(out, v.n_plus_one, [&](const LiveView::NPlusOne& p, bool& f) {
      Str(out, f, "method", p.method);
      Str(out, f, "route", p.route);
      Str(out, f, "statement", p.statement);
      Str(out, f, "table", p.table);
      Num(out, f, "requests", static_cast<double>(p.requests));
      Num(out, f, "last_calls", p.last_calls);
      Num(out, f, "max_calls", p.max_calls);
      At(out, f, "last_time", p.last_at);
    });
  });
  Field(out, first, "history", [&] {
    out += '{';
    bool f = true;
    Num(out, f, "interval_seconds", v.history_interval_seconds);
    // A quantile equal to the floor lies in the lowest bucket (at most this), one equal to the
    // ceiling in +Inf (at least this): the page shows them as "≤" and "≥".
    const std::vector<double>& bounds = v.totals.route_bucket_bounds;
    Num(out, f, "quantile_floor_seconds", bounds.empty() ? kNaN : bounds.front());
    Num(out, f, "quantile_ceiling_seconds", bounds.empty() ? kNaN : bounds.back());
    Field(out, f, "times", [&] { AppendNumbers(out, v.history.times); });
    Field(out, f, "series", [&] {
      out += '{';
      bool fs = true;
      // No structured binding here: clang 14 (the fuzz build) cannot capture one in a lambda.
      for (const auto& entry : v.history.series) {
        Field(out, fs, entry.first, [&] { AppendNumbers(out, entry.second); });
      }
      out += '}';
    });
    out += '}';
  });
  out += "}\n";
  return out;
}

http::HttpRoute LiveEndpoint::JsonRoute() {
  return http::HttpRoute{
      "/vitals.json", "what the live page shows, as versioned JSON (docs/vitals-json.md)",
      [this](const http::HttpRequest& req, http::HttpResponse& resp) {
        if (!http::CheckBasicAuth(req, basic_auth_, "vitals metrics", resp)) return;
        resp.content_type = "application/json";
        resp.headers.emplace_back("Cache-Control", "no-store");
        LiveView view = source_->View();
        view.profiling.allowed = profiling_allows_ != nullptr && profiling_allows_(req);
        resp.body = RenderJson(view);
      }};
}

std::string LiveEndpoint::RenderPage(
    const std::vector<std::pair<std::string, std::string>>& links) {
  std::string list;
  for (const auto& [path, description] : links) {
    absl::StrAppend(&list, "<li><a href=\"");
    internal::AppendHtmlEscaped(list, path);
    list += "\">";
    internal::AppendHtmlEscaped(list, path);
    list += "</a> ";
    internal::AppendHtmlEscaped(list, description);
    list += "</li>";
  }
  std::string page(internal::kLivePage);
  const std::string marker = "<!--vitals:links-->";
  if (const size_t at = page.find(marker); at != std::string::npos) {
    page.replace(at, marker.size(), list);
  }
  return page;
}

http::HttpRoute LiveEndpoint::PageRoute(
    const std::vector<std::pair<std::string, std::string>>& links) {
  return http::HttpRoute{
      "/", "",
      [this, page = RenderPage(links)](const http::HttpRequest& req, http::HttpResponse& resp) {
        if (!http::CheckBasicAuth(req, basic_auth_, "vitals metrics", resp)) return;
        resp.content_type = "text/html; charset=utf-8";
        resp.headers.emplace_back("Cache-Control", "no-cache");
        // Nothing outside the agent: no script, style, image or connection from elsewhere.
        resp.headers.emplace_back("Content-Security-Policy",
                                  "default-src 'self'; script-src 'unsafe-inline'; "
                                  "style-src 'unsafe-inline'; img-src 'self' data:");
        resp.body = page;
      }};
}

}  // namespace exporters
}  // namespace vitals
