#include "agent/root/options_table.h"

#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <map>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "agent/base/listen_address.h"
#include "agent/core/names.h"
#include "agent/core/registry.h"
#include "agent/core/text_escape.h"
#include "agent/root/identity.h"

namespace vitals {
namespace internal {
namespace {

using Parse = std::function<absl::Status(absl::string_view, Options&)>;
using Check = std::function<absl::Status(const Options&)>;

absl::Status BadVariable(absl::string_view env, absl::string_view value, absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat(env, "=\"", value.substr(0, 200), "\": ", why));
}

absl::Status BadOption(absl::string_view field, absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat("option ", field, ": ", why));
}

std::string Code(absl::string_view s) { return absl::StrCat("`", s, "`"); }

std::string NumberText(double v) {
  char buf[32];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, r.ptr);
}

// "250ms", "1.5s", "2m", or a plain number of seconds.
bool ParseDurationText(absl::string_view text, absl::Duration* out) {
  absl::string_view v = absl::StripAsciiWhitespace(text);
  double seconds;
  if (absl::SimpleAtod(v, &seconds)) {
    *out = absl::Seconds(seconds);
    return true;
  }
  return absl::ParseDuration(std::string(v), out);
}

bool ParseBoolText(absl::string_view text, bool* out) {
  const std::string v = absl::AsciiStrToLower(absl::StripAsciiWhitespace(text));
  if (v == "1" || v == "true" || v == "yes" || v == "on") {
    *out = true;
  } else if (v == "0" || v == "false" || v == "no" || v == "off") {
    *out = false;
  } else {
    return false;
  }
  return true;
}

// A parse that runs the field's own check too, so a variable out of range is reported with the
// variable's name.
Parse Checked(std::string env, Parse parse, Check check) {
  return [env, parse, check](absl::string_view value, Options& o) {
    if (absl::Status s = parse(value, o); !s.ok()) return s;
    if (check) {
      if (absl::Status s = check(o); !s.ok()) return BadVariable(env, value, s.message());
    }
    return absl::OkStatus();
  };
}

// Fills spec.copy and spec.show for the field `member`.
template <typename T, typename Show>
void Member(OptionSpec& spec, T Options::*member, Show show) {
  spec.copy = [member](const Options& from, Options& to) { to.*member = from.*member; };
  spec.show = [member, show](const Options& o) { return std::string(show(o.*member)); };
  spec.fallback = [member](Options& o) { o.*member = Options().*member; };
}

std::string Quoted(const std::string& v) {
  return v.empty() ? "empty" : absl::StrCat("\"", v.substr(0, 200), "\"");
}

OptionSpec Bool(bool Options::*member, std::string field, std::string env, std::string doc) {
  OptionSpec spec;
  Member(spec, member, [](bool v) { return v ? "true" : "false"; });
  spec.field = std::move(field);
  spec.env = env;
  spec.default_text = Options().*member ? "true" : "false";
  spec.doc = std::move(doc);
  spec.parse = [member, env](absl::string_view value, Options& o) {
    if (!ParseBoolText(value, &(o.*member))) return BadVariable(env, value, "want true or false");
    return absl::OkStatus();
  };
  return spec;
}

OptionSpec Int(int Options::*member, std::string field, std::string env, int lo, int hi,
               std::string doc) {
  OptionSpec spec;
  Member(spec, member, [](int v) { return std::to_string(v); });
  spec.field = field;
  spec.env = env;
  spec.default_text = std::to_string(Options().*member);
  spec.doc = absl::StrCat(doc, " (", lo, "..", hi, ")");
  spec.parse = [member, env, lo, hi](absl::string_view value, Options& o) {
    int v;
    if (!absl::SimpleAtoi(absl::StripAsciiWhitespace(value), &v) || v < lo || v > hi) {
      return BadVariable(env, value, absl::StrCat("want a whole number from ", lo, " to ", hi));
    }
    o.*member = v;
    return absl::OkStatus();
  };
  spec.check = [member, field, lo, hi](const Options& o) {
    if (o.*member >= lo && o.*member <= hi) return absl::OkStatus();
    return BadOption(field, absl::StrCat(o.*member, " is not in ", lo, "..", hi));
  };
  return spec;
}

// A duration in [lo, hi]; with `zero_ok`, 0 too (it means "off"). hi = InfiniteDuration() means
// no upper bound.
OptionSpec Duration(absl::Duration Options::*member, std::string field, std::string env,
                    absl::Duration lo, absl::Duration hi, bool zero_ok, std::string doc) {
  OptionSpec spec;
  Member(spec, member, [](absl::Duration v) { return absl::FormatDuration(v); });
  spec.field = field;
  spec.env = env;
  spec.default_text = Code(absl::FormatDuration(Options().*member));
  const std::string range = hi == absl::InfiniteDuration()
                                ? absl::StrCat(">= ", absl::FormatDuration(lo))
                                : absl::StrCat(zero_ok ? "0, or " : "", absl::FormatDuration(lo),
                                               "..", absl::FormatDuration(hi));
  spec.doc = absl::StrCat(doc, " (", range, ")");
  Check check = [member, field, lo, hi, zero_ok, range](const Options& o) {
    const absl::Duration d = o.*member;
    if ((zero_ok && d == absl::ZeroDuration()) ||
        (d >= lo && d <= hi && d != absl::InfiniteDuration())) {
      return absl::OkStatus();
    }
    return BadOption(field, absl::StrCat(absl::FormatDuration(d), " is not in ", range));
  };
  spec.check = check;
  spec.parse = Checked(
      env,
      [member, env](absl::string_view value, Options& o) {
        absl::Duration d;
        if (!ParseDurationText(value, &d)) {
          return BadVariable(env, value, "want a duration such as 500ms, 1s or 2.5s");
        }
        o.*member = d;
        return absl::OkStatus();
      },
      check);
  return spec;
}

// A string option, trimmed of surrounding white space when parsed (not for secrets).
OptionSpec String(std::string Options::*member, std::string field, std::string env, bool trim,
                  std::string doc, Check check = nullptr) {
  OptionSpec spec;
  Member(spec, member, Quoted);
  spec.field = std::move(field);
  spec.env = env;
  const std::string def = Options().*member;
  spec.default_text = def.empty() ? "empty" : Code(def);
  spec.doc = std::move(doc);
  spec.check = check;
  spec.parse = Checked(
      env,
      [member, trim](absl::string_view value, Options& o) {
        o.*member = std::string(trim ? absl::StripAsciiWhitespace(value) : value);
        return absl::OkStatus();
      },
      check);
  return spec;
}

OptionSpec CodeOnly(std::string field, std::string default_text, std::string doc) {
  OptionSpec spec;
  spec.field = std::move(field);
  spec.default_text = std::move(default_text);
  spec.doc = std::move(doc);
  return spec;
}

// A map option read as comma-separated key=value pairs (trimmed; with `percent_decoded`, the
// values %-decoded, as OpenTelemetry's resource attributes are written).
OptionSpec LabelMap(std::map<std::string, std::string> Options::*member, std::string field,
                    std::string env, std::string default_text, std::string doc, Check check,
                    bool percent_decoded = false) {
  OptionSpec spec;
  spec.field = std::move(field);
  spec.env = env;
  Member(spec, member, [](const std::map<std::string, std::string>& g) {
    return g.empty() ? std::string("empty") : absl::StrJoin(g, ",", absl::PairFormatter("="));
  });
  spec.default_text = std::move(default_text);
  spec.doc = std::move(doc);
  spec.check = check;
  spec.parse = Checked(
      env,
      [env, member, percent_decoded](absl::string_view value, Options& o) {
        std::map<std::string, std::string> pairs;
        if (percent_decoded) {
          if (absl::Status s = ParseResourceAttributes(value, &pairs); !s.ok()) {
            return BadVariable(env, value, s.message());
          }
        } else {
          for (absl::string_view pair : absl::StrSplit(value, ',', absl::SkipWhitespace())) {
            std::pair<absl::string_view, absl::string_view> kv =
                absl::StrSplit(pair, absl::MaxSplits('=', 1));
            const std::string key(absl::StripAsciiWhitespace(kv.first));
            if (key.empty() || !absl::StrContains(pair, '=')) {
              return BadVariable(env, value, "want label=value pairs separated by commas");
            }
            pairs[key] = std::string(absl::StripAsciiWhitespace(kv.second));
          }
        }
        o.*member = std::move(pairs);
        return absl::OkStatus();
      },
      check);
  return spec;
}

// A secret's value as warnings show it.
std::string Hidden(const Options&) { return "(hidden)"; }

// Makes `spec` (a String one) keep its value out of every message.
void MakeSecret(OptionSpec& spec, std::string Options::*member) {
  spec.show = Hidden;
  spec.parse = [member, env = spec.env, check = spec.check](absl::string_view value, Options& o) {
    Options trial = o;
    trial.*member = std::string(value);
    if (absl::Status s = check(trial); !s.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(env, " (value hidden): ", s.message()));
    }
    o = std::move(trial);
    return absl::OkStatus();
  };
}

// "user:password" with a non-empty user. The value is a secret: never echoed.
Check Credentials(std::string field, std::string Options::*member) {
  return [field, member](const Options& o) {
    const std::string& v = o.*member;
    const size_t colon = v.find(':');
    if (v.empty() || (colon != std::string::npos && colon > 0)) return absl::OkStatus();
    return BadOption(field, "want user:password with a non-empty user");
  };
}

std::vector<OptionSpec> MakeTable() {
  std::vector<OptionSpec> t;
  t.push_back(String(&Options::listen, "listen", "VITALS_LISTEN", true,
                     "`HOST:PORT`, `[IPV6]:PORT`, `:PORT` or `PORT` (all interfaces); port 0 "
                     "picks a free port (`agent.port()`)",
                     [](const Options& o) { return ParseListenAddress(o.listen).status(); }));
  t.back().fail_closed = true;
  t.push_back(Int(&Options::http_threads, "http_threads", "VITALS_HTTP_THREADS", 1, 64,
                  "threads for profiles and symbol lookups; connections cost no thread"));
  t.push_back(Duration(&Options::http_header_timeout, "http_header_timeout",
                       "VITALS_HTTP_HEADER_TIMEOUT", absl::Milliseconds(10), absl::Minutes(5),
                       false, "time to send the whole request head, however slowly"));
  t.push_back(Duration(&Options::http_request_timeout, "http_request_timeout",
                       "VITALS_HTTP_REQUEST_TIMEOUT", absl::Milliseconds(10), absl::Hours(1), false,
                       "time to send a request body, and to take the answer"));
  t.push_back(Int(&Options::http_max_connections, "http_max_connections",
                  "VITALS_HTTP_MAX_CONNECTIONS", 16, 1000000,
                  "open connections at most; at the cap the one that has waited longest for its "
                  "request is closed"));
  t.push_back(String(&Options::tls_cert_file, "tls_cert_file", "VITALS_TLS_CERT_FILE", true,
                     "PEM certificate chain: the port speaks https (with `tls_key_file`)"));
  t.back().fail_closed = true;
  t.push_back(String(&Options::tls_key_file, "tls_key_file", "VITALS_TLS_KEY_FILE", true,
                     "PEM private key of `tls_cert_file`", [](const Options& o) {
                       if (o.tls_cert_file.empty() == o.tls_key_file.empty()) {
                         return absl::OkStatus();
                       }
                       return BadOption("tls_cert_file/tls_key_file",
                                        "set both (VITALS_TLS_CERT_FILE and VITALS_TLS_KEY_FILE) "
                                        "or neither");
                     }));
  t.back().fail_closed = true;
  t.push_back(String(&Options::tls_client_ca_file, "tls_client_ca_file",
                     "VITALS_TLS_CLIENT_CA_FILE", true,
                     "PEM CA bundle: require client certificates it signed", [](const Options& o) {
                       if (o.tls_client_ca_file.empty() || !o.tls_cert_file.empty()) {
                         return absl::OkStatus();
                       }
                       return BadOption("tls_client_ca_file",
                                        "client certificates need TLS: set tls_cert_file and "
                                        "tls_key_file too");
                     }));
  t.back().fail_closed = true;
  t.push_back(String(&Options::metrics_basic_auth, "metrics_basic_auth",
                     "VITALS_METRICS_BASIC_AUTH", false,
                     "`user:password` required on `/metrics` and `/`",
                     Credentials("metrics_basic_auth", &Options::metrics_basic_auth)));
  t.back().fail_closed = true;
  MakeSecret(t.back(), &Options::metrics_basic_auth);
  t.push_back(Bool(&Options::gzip, "gzip", "VITALS_GZIP", "gzip `/metrics` when asked"));
  {
    OptionSpec spec;
    spec.field = "request_duration_buckets";
    spec.env = "VITALS_REQUEST_DURATION_BUCKETS";
    Member(spec, &Options::request_duration_buckets, [](const std::vector<double>& b) {
      return absl::StrJoin(b, ",",
                           [](std::string* out, double v) { absl::StrAppend(out, NumberText(v)); });
    });
    spec.default_text = "50 us .. 10 s";
    spec.doc = "e.g. `0.01,0.1,1,10` (seconds; 1 to 64 strictly increasing bounds)";
    spec.check = [](const Options& o) {
      absl::Status s =
          ValidateBuckets("http_server_request_duration_seconds", o.request_duration_buckets);
      return s.ok() ? s : BadOption("request_duration_buckets", s.message());
    };
    spec.parse = Checked(
        spec.env,
        [env = spec.env](absl::string_view value, Options& o) {
          std::vector<double> buckets;
          for (absl::string_view part : absl::StrSplit(value, ',', absl::SkipWhitespace())) {
            double b;
            if (!absl::SimpleAtod(absl::StripAsciiWhitespace(part), &b)) {
              return BadVariable(env, value, absl::StrCat("\"", part, "\" is not a number"));
            }
            buckets.push_back(b);
          }
          o.request_duration_buckets = std::move(buckets);
          return absl::OkStatus();
        },
        spec.check);
    t.push_back(std::move(spec));
  }
  t.push_back(Bool(&Options::exemplars, "exemplars", "VITALS_EXEMPLARS",
                   "one exemplar per request-duration bucket, from traced requests"));
  t.push_back(Bool(&Options::body_sizes, "body_sizes", "VITALS_BODY_SIZES",
                   "request and response body-size histograms per route"));
  t.push_back(Bool(&Options::native_histograms, "native_histograms", "VITALS_NATIVE_HISTOGRAMS",
                   "native histograms for request and database durations (protobuf format)"));
  t.push_back(Duration(&Options::slow_request_threshold, "slow_request_threshold",
                       "VITALS_SLOW_REQUEST_THRESHOLD", absl::ZeroDuration(),
                       absl::InfiniteDuration(), false, "e.g. `250ms`"));
  t.push_back(Int(&Options::series_limit, "series_limit", "VITALS_SERIES_LIMIT", 1, 1000000,
                  "label sets per metric family"));
  t.push_back(Duration(&Options::series_idle_ttl, "series_idle_ttl", "VITALS_SERIES_IDLE_TTL",
                       absl::Seconds(1), absl::Hours(24 * 7), true,
                       "a series of an expiring family with no record this long is removed"));
  t.push_back(Int(&Options::per_cpu_memory_mib, "per_cpu_memory_mib", "VITALS_PER_CPU_MEMORY_MIB",
                  0, 1 << 20, "MiB the per-CPU cells of busy series may take, process-wide"));
  t.push_back(Duration(&Options::callback_timeout, "callback_timeout", "VITALS_CALLBACK_TIMEOUT",
                       absl::Milliseconds(1), absl::Minutes(1), false,
                       "how long a scrape waits for the scrape-time callbacks"));
  {
    OptionSpec spec;
    spec.field = "log_lines_per_second";
    spec.env = "VITALS_LOG_LINES_PER_SECOND";
    Member(spec, &Options::log_lines_per_second, NumberText);
    spec.default_text = NumberText(Options().log_lines_per_second);
    spec.doc = "rate limit of the agent's log lines (> 0)";
    spec.check = [](const Options& o) {
      if (o.log_lines_per_second > 0 && o.log_lines_per_second <= 1e9) return absl::OkStatus();
      return BadOption("log_lines_per_second", "must be positive");
    };
    spec.parse = Checked(
        spec.env,
        [env = spec.env](absl::string_view value, Options& o) {
          if (!absl::SimpleAtod(absl::StripAsciiWhitespace(value), &o.log_lines_per_second)) {
            return BadVariable(env, value, "want a positive number");
          }
          return absl::OkStatus();
        },
        spec.check);
    t.push_back(std::move(spec));
  }
  t.push_back(Int(&Options::log_burst, "log_burst", "VITALS_LOG_BURST", 1, 1000000,
                  "log lines let through at once before the rate limit applies"));
  {
    OptionSpec spec;
    spec.field = "log_level";
    spec.env = "VITALS_LOG_LEVEL";
    Member(spec, &Options::log_level,
           [](LogSeverity v) { return absl::AsciiStrToLower(LogSeverityName(v)); });
    spec.default_text = Code(spec.show(Options()));
    spec.doc = "the least severe lines written: `info`, `warning` or `error`";
    spec.parse = [env = spec.env](absl::string_view value, Options& o) {
      const std::string v = absl::AsciiStrToLower(absl::StripAsciiWhitespace(value));
      if (v == "info") {
        o.log_level = LogSeverity::kInfo;
      } else if (v == "warning" || v == "warn") {
        o.log_level = LogSeverity::kWarning;
      } else if (v == "error") {
        o.log_level = LogSeverity::kError;
      } else {
        return BadVariable(env, value, "want info, warning or error");
      }
      return absl::OkStatus();
    };
    t.push_back(std::move(spec));
  }
  t.push_back(Bool(&Options::fast_clock, "fast_clock", "VITALS_FAST_CLOCK",
                   "TSC clock when the kernel trusts the TSC, else `steady_clock`"));
  t.push_back(CodeOnly("log_sink", "stderr", "where log lines go (`vitals::LogSink`)"));
  t.push_back(CodeOnly("clock", "the fast or steady clock",
                       "an injected clock (tests); also the time base of the heap trend"));
  t.push_back(Bool(&Options::process_metrics, "process_metrics", "VITALS_PROCESS_METRICS",
                   "sample and serve the process and heap metrics"));
  t.push_back(Bool(&Options::heap_metrics, "heap_metrics", "VITALS_HEAP_METRICS",
                   "read the allocator on each sample (see below)"));
  t.push_back(Duration(&Options::sample_interval, "sample_interval", "VITALS_SAMPLE_INTERVAL",
                       absl::Milliseconds(10), absl::Hours(1), false,
                       "how often the sampler runs"));
  t.push_back(Duration(&Options::heap_growth_window, "heap_growth_window",
                       "VITALS_HEAP_GROWTH_WINDOW", absl::Seconds(1), absl::Hours(24), false,
                       "window of the heap trend (at least 2 and at most 4096 samples)"));
  t.push_back(Duration(&Options::memory_log_interval, "memory_log_interval",
                       "VITALS_MEMORY_LOG_INTERVAL", absl::ZeroDuration(), absl::InfiniteDuration(),
                       false,
                       "log `vitals memory: rss .. MB, heap .. MB ..` this often; `0` = never"));
  t.push_back(String(
      &Options::proc_root, "proc_root", "VITALS_PROC_ROOT", true,
      "where procfs is mounted (reads `<root>/self/*`, `<root>/stat`)", [](const Options& o) {
        return o.proc_root.empty() ? BadOption("proc_root", "must not be empty") : absl::OkStatus();
      }));
  t.push_back(
      CodeOnly("allocator_reader", "detected", "a `vitals::AllocatorReader` (vitals/process.h)"));
  t.push_back(Bool(&Options::http_enabled, "http_enabled", "VITALS_HTTP_ENABLED",
                   "serve the HTTP endpoint; false = push-only, no port"));
  t.push_back(String(
      &Options::pushgateway_url, "pushgateway_url", "VITALS_PUSHGATEWAY_URL", true,
      "Pushgateway base URL (`http://` or `https://`); empty = no pushing", [](const Options& o) {
        const std::string& u = o.pushgateway_url;
        if (u.empty() || absl::StartsWith(u, "http://") || absl::StartsWith(u, "https://")) {
          return absl::OkStatus();
        }
        return BadOption("pushgateway_url", absl::StrCat("\"", u.substr(0, 200),
                                                         "\" is not an http:// or https:// URL"));
      }));
  t.back().fail_closed = true;
  auto identity_value = [](const char* field, std::string Options::*member) {
    return [field, member](const Options& o) {
      const std::string& v = o.*member;
      if (v.size() > kMaxIdentityValueBytes || !IsValidUtf8(v)) {
        return BadOption(field, "not UTF-8 of at most 256 bytes");
      }
      return absl::OkStatus();
    };
  };
  {
    OptionSpec spec = String(&Options::service_name, "service_name", "VITALS_SERVICE_NAME", true,
                             "`service_name` of `target_info`",
                             identity_value("service_name", &Options::service_name));
    spec.default_text = "`OTEL_SERVICE_NAME`, or `unknown_service:<program>`";
    t.push_back(std::move(spec));
  }
  {
    OptionSpec spec = String(&Options::service_version, "service_version", "VITALS_SERVICE_VERSION",
                             true, "`service_version` of `target_info`",
                             identity_value("service_version", &Options::service_version));
    spec.default_text = "from `OTEL_RESOURCE_ATTRIBUTES`, or none";
    t.push_back(std::move(spec));
  }
  {
    OptionSpec spec =
        String(&Options::service_instance_id, "service_instance_id", "VITALS_SERVICE_INSTANCE_ID",
               true, "`service_instance_id` of `target_info`",
               identity_value("service_instance_id", &Options::service_instance_id));
    spec.default_text = "from `OTEL_RESOURCE_ATTRIBUTES`, or a random UUID";
    t.push_back(std::move(spec));
  }
  t.push_back(LabelMap(
      &Options::resource_attributes, "resource_attributes", "VITALS_RESOURCE_ATTRIBUTES",
      "`OTEL_RESOURCE_ATTRIBUTES`",
      "more `target_info` labels, e.g. `deployment.environment=prod` (values %-encoded)",
      [](const Options& o) {
        if (o.resource_attributes.size() > kMaxResourceAttributes) {
          return BadOption("resource_attributes", "more than 32");
        }
        return absl::OkStatus();
      },
      /*percent_decoded=*/true));
  t.push_back(LabelMap(&Options::constant_labels, "constant_labels", "VITALS_CONSTANT_LABELS",
                       "empty", "labels on every series, e.g. `region=eu-1` (at most 16)",
                       [](const Options& o) {
                         if (absl::Status s = ValidateConstantLabels(o.constant_labels); !s.ok()) {
                           return BadOption("constant_labels", s.message());
                         }
                         return absl::OkStatus();
                       }));
  {
    OptionSpec spec = String(&Options::job, "job", "VITALS_JOB", true, "`job` of pushed metrics");
    spec.default_text = "program name";
    t.push_back(std::move(spec));
  }
  t.push_back(LabelMap(
      &Options::push_grouping, "push_grouping", "VITALS_PUSH_GROUPING", "`instance=<host>`",
      "grouping labels, e.g. `instance=batch-7,shard=3`", [](const Options& o) {
        for (const auto& [key, value] : o.push_grouping) {
          if (!IsValidLabelName(key) || key == "job") {
            return BadOption("push_grouping", absl::StrCat("\"", key.substr(0, 100),
                                                           "\" is not a usable label name"));
          }
        }
        return absl::OkStatus();
      }));
  t.push_back(Duration(&Options::push_interval, "push_interval", "VITALS_PUSH_INTERVAL",
                       absl::Milliseconds(100), absl::Hours(24), true,
                       "push period; `0` = only `Push()`, `Stop()` and exit"));
  t.push_back(Duration(&Options::push_timeout, "push_timeout", "VITALS_PUSH_TIMEOUT",
                       absl::Milliseconds(10), absl::Minutes(5), false, "bound on each push"));
  t.push_back(Bool(&Options::push_delete_on_stop, "push_delete_on_stop",
                   "VITALS_PUSH_DELETE_ON_STOP", "delete the group after the final push"));
  t.push_back(Int(&Options::n_plus_one_threshold, "n_plus_one_threshold",
                  "VITALS_N_PLUS_ONE_THRESHOLD", 2, 100000,
                  "repeats of one statement in one request that count as N+1"));
  t.push_back(Int(&Options::sequential_calls_min, "sequential_calls_min",
                  "VITALS_SEQUENTIAL_CALLS_MIN", 2, 1000,
                  "calls one after another that make a request's calls sequential"));
  t.push_back(Int(&Options::sequential_calls_percent, "sequential_calls_percent",
                  "VITALS_SEQUENTIAL_CALLS_PERCENT", 1, 100,
                  "share of a request its sequential calls must take"));
  t.push_back(Duration(&Options::explain_threshold, "explain_threshold", "VITALS_EXPLAIN_THRESHOLD",
                       absl::Microseconds(1), absl::Hours(1), true,
                       "database calls this long get their statement explained; `0` = never"));
  t.push_back(Duration(&Options::explain_interval, "explain_interval", "VITALS_EXPLAIN_INTERVAL",
                       absl::Milliseconds(1), absl::Hours(24), true,
                       "least time between two EXPLAINs of one statement"));
  t.push_back(Duration(&Options::explain_timeout, "explain_timeout", "VITALS_EXPLAIN_TIMEOUT",
                       absl::Milliseconds(10), absl::Minutes(1), false,
                       "bound on each EXPLAIN (PostgreSQL: statement and lock timeout)"));
  t.push_back(Int(&Options::explain_min_rows, "explain_min_rows", "VITALS_EXPLAIN_MIN_ROWS", 0,
                  1000000000, "estimated rows from which a filtered full table read is flagged"));
  t.push_back(Bool(&Options::profiling, "profiling", "VITALS_PROFILING", "serve `/debug/pprof/*`"));
  t.push_back(Duration(&Options::profile_max_duration, "profile_max_duration",
                       "VITALS_PROFILE_MAX_DURATION", absl::Seconds(1), absl::Hours(1), false,
                       "longest CPU profile a request may ask for"));
  t.push_back(String(&Options::profiling_basic_auth, "profiling_basic_auth",
                     "VITALS_PROFILING_BASIC_AUTH", false,
                     "`user:password`; empty = loopback clients only",
                     Credentials("profiling_basic_auth", &Options::profiling_basic_auth)));
  t.back().fail_closed = true;
  MakeSecret(t.back(), &Options::profiling_basic_auth);
  t.push_back(Int(&Options::mutex_profile_fraction, "mutex_profile_fraction",
                  "VITALS_MUTEX_PROFILE_FRACTION", 0, 1000000000,
                  "record one `absl::Mutex` contention in N for `/debug/pprof/mutex`; 0 = off"));
  {
    OptionSpec spec = Bool(&Options::auto_profile, "auto_profile", "VITALS_AUTO_PROFILE",
                           "capture a CPU profile when slow requests burst; needs `profiling`");
    spec.check = [](const Options& o) {
      if (!o.auto_profile || o.profiling) return absl::OkStatus();
      return BadOption("auto_profile", "needs profiling on (VITALS_PROFILING=1)");
    };
    spec.parse = Checked(spec.env, spec.parse, spec.check);
    t.push_back(std::move(spec));
  }
  t.push_back(Int(&Options::auto_profile_slow_requests, "auto_profile_slow_requests",
                  "VITALS_AUTO_PROFILE_SLOW_REQUESTS", 1, 1000,
                  "slow requests ending within 10 s that trigger an automatic profile"));
  {
    OptionSpec spec =
        Duration(&Options::auto_profile_duration, "auto_profile_duration",
                 "VITALS_AUTO_PROFILE_DURATION", absl::Seconds(1), absl::Hours(1), false,
                 "length of an automatic profile, at most `profile_max_duration`");
    Check range = spec.check;
    // At most profile_max_duration, which may be shorter than the default.
    spec.fallback = [](Options& o) {
      o.auto_profile_duration = std::min(Options().auto_profile_duration, o.profile_max_duration);
    };
    spec.check = [range](const Options& o) {
      if (absl::Status s = range(o); !s.ok()) return s;
      if (o.auto_profile_duration <= o.profile_max_duration) return absl::OkStatus();
      return BadOption("auto_profile_duration",
                       absl::StrCat(absl::FormatDuration(o.auto_profile_duration),
                                    " is longer than profile_max_duration (",
                                    absl::FormatDuration(o.profile_max_duration), ")"));
    };
    t.push_back(std::move(spec));
  }
  t.push_back(Duration(&Options::auto_profile_cooldown, "auto_profile_cooldown",
                       "VITALS_AUTO_PROFILE_COOLDOWN", absl::Seconds(1), absl::Hours(24 * 7), false,
                       "least time from one automatic profile's trigger to the next"));
  t.push_back(Int(&Options::auto_profile_keep, "auto_profile_keep", "VITALS_AUTO_PROFILE_KEEP", 1,
                  100, "automatic profiles kept, newest first (32 MiB at most in all)"));
  t.push_back(CodeOnly("read_environment", "true",
                       "apply these `VITALS_*` variables on top of the options in code"));
  return t;
}

}  // namespace

const std::vector<OptionSpec>& OptionsTable() {
  static const std::vector<OptionSpec>* table = new std::vector<OptionSpec>(MakeTable());
  return *table;
}

std::string OptionsTableMarkdown() {
  std::string out = "| option | variable | default | meaning |\n|---|---|---|---|\n";
  for (const OptionSpec& spec : OptionsTable()) {
    absl::StrAppend(&out, "| ", Code(spec.field), " | ", spec.env.empty() ? "" : Code(spec.env),
                    " | ", spec.default_text, " | ", spec.doc, " |\n");
  }
  return out;
}

}  // namespace internal

std::vector<double> DefaultRequestDurationBuckets() {
  // Six bounds under OpenTelemetry's first (5 ms), so routes and queries that take microseconds
  // have percentiles of their own; then OpenTelemetry's list unchanged, so queries and SLOs
  // written against its `le` values keep working.
  return {0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
          0.075,   0.1,    0.25,    0.5,    0.75,  1,      2.5,   5,    7.5,   10};
}

absl::Status ApplyEnvironment(Options& options, const EnvLookup& lookup) {
  Options next = options;
  for (const internal::OptionSpec& spec : internal::OptionsTable()) {
    if (spec.env.empty()) continue;
    const char* value = lookup ? lookup(spec.env.c_str()) : std::getenv(spec.env.c_str());
    if (value == nullptr) continue;
    if (absl::Status s = spec.parse(value, next); !s.ok()) return s;
  }
  options = std::move(next);
  return absl::OkStatus();
}

namespace internal {
namespace {

// Edits (insert, delete, replace) from `a` to `b`.
size_t EditDistance(absl::string_view a, absl::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] != b[j - 1] ? 1 : 0)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

}  // namespace

absl::Status SettleOptions(Options& options, const EnvLookup& lookup,
                           std::vector<std::string>* warnings) {
  const Options code = options;
  Options o = options;
  absl::Status fatal;
  auto fail = [&fatal](const absl::Status& s) {
    if (fatal.ok()) fatal = s;
  };
  // The variables, one at a time, over the options in code.
  for (const OptionSpec& spec : OptionsTable()) {
    if (spec.env.empty() || !lookup) continue;
    const char* value = lookup(spec.env.c_str());
    if (value == nullptr) continue;
    Options trial = o;
    absl::Status s = spec.parse(value, trial);
    if (s.ok()) {
      o = std::move(trial);
    } else if (spec.fail_closed) {
      fail(s);
    } else {
      const std::string kept = spec.show(o);
      const bool is_default = kept == spec.show(Options());
      warnings->push_back(absl::StrCat(s.message(), "; using ", kept,
                                       is_default ? " (the default)" : " (the value in code)"));
    }
  }
  // Every field as it now stands (the code's values, and combinations the variables made).
  for (const OptionSpec& spec : OptionsTable()) {
    if (!spec.check) continue;
    absl::Status s = spec.check(o);
    if (s.ok()) continue;
    if (spec.fallback) spec.fallback(o);  // a fail_closed one too: nothing half-set is used
    if (spec.fail_closed) {
      fail(s);
    } else {
      warnings->push_back(absl::StrCat(s.message(), "; using ", spec.show(o)));
    }
  }
  options = std::move(o);
  return fatal;
}

std::vector<std::string> UnknownVariableWarnings(const std::vector<std::string>& names) {
  std::vector<std::string> out;
  for (const std::string& name : names) {
    const OptionSpec* closest = nullptr;
    size_t best = std::numeric_limits<size_t>::max();
    bool known = false;
    for (const OptionSpec& spec : OptionsTable()) {
      if (spec.env.empty()) continue;
      if (spec.env == name) {
        known = true;
        break;
      }
      const size_t d = EditDistance(name, spec.env);
      if (d < best) {
        best = d;
        closest = &spec;
      }
    }
    if (known) continue;
    std::string line = absl::StrCat("the environment variable ", name.substr(0, 200),
                                    " is not a vitals option and is ignored");
    // A misspelling is a few edits away; anything further is likely somebody else's variable.
    if (closest != nullptr && best <= std::max<size_t>(2, closest->env.size() / 4)) {
      absl::StrAppend(&line, "; did you mean ", closest->env, "?");
    }
    out.push_back(std::move(line));
  }
  return out;
}

std::vector<std::string> VitalsVariableNames() {
  std::vector<std::string> names;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    const absl::string_view entry = *e;
    if (!absl::StartsWith(entry, "VITALS_")) continue;
    names.emplace_back(entry.substr(0, entry.find('=')));
  }
  return names;
}

}  // namespace internal

absl::Status ValidateOptions(const Options& options) {
  for (const internal::OptionSpec& spec : internal::OptionsTable()) {
    if (!spec.check) continue;
    if (absl::Status s = spec.check(options); !s.ok()) return s;
  }
  return absl::OkStatus();
}

}  // namespace vitals
