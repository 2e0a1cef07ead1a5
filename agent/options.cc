#include "vitals/options.h"

#include <cstdlib>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "agent/listen_address.h"
#include "agent/names.h"
#include "agent/registry.h"

namespace vitals {

std::vector<double> DefaultRequestDurationBuckets() {
  return {0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10};
}

namespace {

absl::Status BadVariable(absl::string_view name, absl::string_view value, absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat(name, "=\"", value.substr(0, 200), "\": ", why));
}

// A string option: the value without surrounding whitespace.
auto SetTrimmed(std::string* out) {
  return [out](absl::string_view, absl::string_view value) {
    *out = std::string(absl::StripAsciiWhitespace(value));
    return absl::OkStatus();
  };
}

absl::Status ParseBool(absl::string_view name, absl::string_view value, bool* out) {
  std::string v = absl::AsciiStrToLower(absl::StripAsciiWhitespace(value));
  if (v == "1" || v == "true" || v == "yes" || v == "on") {
    *out = true;
  } else if (v == "0" || v == "false" || v == "no" || v == "off") {
    *out = false;
  } else {
    return BadVariable(name, value, "want true or false");
  }
  return absl::OkStatus();
}

absl::Status ParseInt(absl::string_view name, absl::string_view value, int lo, int hi, int* out) {
  int v;
  if (!absl::SimpleAtoi(absl::StripAsciiWhitespace(value), &v) || v < lo || v > hi) {
    return BadVariable(name, value, absl::StrCat("want a whole number from ", lo, " to ", hi));
  }
  *out = v;
  return absl::OkStatus();
}

absl::Status ParseDouble(absl::string_view name, absl::string_view value, double* out) {
  double v;
  if (!absl::SimpleAtod(absl::StripAsciiWhitespace(value), &v) || !(v > 0) || v > 1e9) {
    return BadVariable(name, value, "want a positive number");
  }
  *out = v;
  return absl::OkStatus();
}

// "250ms", "1.5s", "2m", or a plain number of seconds.
absl::Status ParseDurationValue(absl::string_view name, absl::string_view value,
                                absl::Duration* out) {
  absl::string_view v = absl::StripAsciiWhitespace(value);
  absl::Duration d;
  double seconds;
  if (absl::SimpleAtod(v, &seconds)) {
    d = absl::Seconds(seconds);
  } else if (!absl::ParseDuration(std::string(v), &d)) {
    return BadVariable(name, value, "want a duration such as 500ms, 1s or 2.5s");
  }
  if (d < absl::ZeroDuration() || d == absl::InfiniteDuration()) {
    return BadVariable(name, value, "want a finite duration >= 0");
  }
  *out = d;
  return absl::OkStatus();
}

absl::Status ParseBuckets(absl::string_view name, absl::string_view value,
                          std::vector<double>* out) {
  std::vector<double> buckets;
  for (absl::string_view part : absl::StrSplit(value, ',', absl::SkipWhitespace())) {
    double b;
    if (!absl::SimpleAtod(absl::StripAsciiWhitespace(part), &b)) {
      return BadVariable(name, value, absl::StrCat("\"", part, "\" is not a number"));
    }
    buckets.push_back(b);
  }
  if (absl::Status s = internal::ValidateBuckets(name, buckets); !s.ok()) {
    return BadVariable(name, value, s.message());
  }
  *out = std::move(buckets);
  return absl::OkStatus();
}

}  // namespace

absl::Status ApplyEnvironment(Options& options, const EnvLookup& lookup) {
  auto get = [&](const char* name) -> const char* {
    return lookup ? lookup(name) : std::getenv(name);
  };
  Options next = options;
  absl::Status status;
  auto apply = [&](const char* name, auto&& parse) {
    if (!status.ok()) return;
    const char* v = get(name);
    if (v != nullptr) status = parse(name, absl::string_view(v));
  };
  apply("VITALS_LISTEN", SetTrimmed(&next.listen));
  apply("VITALS_HTTP_THREADS", [&](absl::string_view n, absl::string_view v) {
    return ParseInt(n, v, 1, 64, &next.http_threads);
  });
  apply("VITALS_HTTP_HEADER_TIMEOUT", [&](absl::string_view n, absl::string_view v) {
    return ParseDurationValue(n, v, &next.http_header_timeout);
  });
  apply("VITALS_HTTP_REQUEST_TIMEOUT", [&](absl::string_view n, absl::string_view v) {
    return ParseDurationValue(n, v, &next.http_request_timeout);
  });
  apply("VITALS_HTTP_MAX_CONNECTIONS", [&](absl::string_view n, absl::string_view v) {
    return ParseInt(n, v, 16, 1000000, &next.http_max_connections);
  });
  apply("VITALS_TLS_CERT_FILE", SetTrimmed(&next.tls_cert_file));
  apply("VITALS_TLS_KEY_FILE", SetTrimmed(&next.tls_key_file));
  apply("VITALS_TLS_CLIENT_CA_FILE", SetTrimmed(&next.tls_client_ca_file));
  apply("VITALS_METRICS_BASIC_AUTH", [&](absl::string_view, absl::string_view v) {
    next.metrics_basic_auth = std::string(v);
    return absl::OkStatus();
  });
  apply("VITALS_GZIP",
        [&](absl::string_view n, absl::string_view v) { return ParseBool(n, v, &next.gzip); });
  apply("VITALS_REQUEST_DURATION_BUCKETS", [&](absl::string_view n, absl::string_view v) {
    return ParseBuckets(n, v, &next.request_duration_buckets);
  });
  apply("VITALS_SLOW_REQUEST_THRESHOLD", [&](absl::string_view n, absl::string_view v) {
    return ParseDurationValue(n, v, &next.slow_request_threshold);
  });
  apply("VITALS_SERIES_LIMIT", [&](absl::string_view n, absl::string_view v) {
    return ParseInt(n, v, 1, 1000000, &next.series_limit);
  });
  apply("VITALS_LOG_LINES_PER_SECOND", [&](absl::string_view n, absl::string_view v) {
    return ParseDouble(n, v, &next.log_lines_per_second);
  });
  apply("VITALS_LOG_BURST", [&](absl::string_view n, absl::string_view v) {
    return ParseInt(n, v, 1, 1000000, &next.log_burst);
  });
  apply("VITALS_FAST_CLOCK", [&](absl::string_view n, absl::string_view v) {
    return ParseBool(n, v, &next.fast_clock);
  });
  apply("VITALS_N_PLUS_ONE_THRESHOLD", [&](absl::string_view n, absl::string_view v) {
    return ParseInt(n, v, 2, 100000, &next.n_plus_one_threshold);
  });
  apply("VITALS_PROCESS_METRICS", [&](absl::string_view n, absl::string_view v) {
    return ParseBool(n, v, &next.process_metrics);
  });
  apply("VITALS_HEAP_METRICS", [&](absl::string_view n, absl::string_view v) {
    return ParseBool(n, v, &next.heap_metrics);
  });
  apply("VITALS_SAMPLE_INTERVAL", [&](absl::string_view n, absl::string_view v) {
    return ParseDurationValue(n, v, &next.sample_interval);
  });
  apply("VITALS_HEAP_GROWTH_WINDOW", [&](absl::string_view n, absl::string_view v) {
    return ParseDurationValue(n, v, &next.heap_growth_window);
  });
  apply("VITALS_MEMORY_LOG_INTERVAL", [&](absl::string_view n, absl::string_view v) {
    return ParseDurationValue(n, v, &next.memory_log_interval);
  });
  apply("VITALS_PROFILING",
        [&](absl::string_view n, absl::string_view v) { return ParseBool(n, v, &next.profiling); });
  apply("VITALS_PROFILE_MAX_DURATION", [&](absl::string_view n, absl::string_view v) {
    return ParseDurationValue(n, v, &next.profile_max_duration);
  });
  apply("VITALS_PROFILING_BASIC_AUTH", [&](absl::string_view, absl::string_view v) {
    next.profiling_basic_auth = std::string(v);
    return absl::OkStatus();
  });
  apply("VITALS_HTTP_ENABLED", [&](absl::string_view n, absl::string_view v) {
    return ParseBool(n, v, &next.http_enabled);
  });
  apply("VITALS_PUSHGATEWAY_URL", SetTrimmed(&next.pushgateway_url));
  apply("VITALS_JOB", SetTrimmed(&next.job));
  apply("VITALS_PUSH_GROUPING", [&](absl::string_view n, absl::string_view v) {
    std::map<std::string, std::string> grouping;
    for (absl::string_view pair : absl::StrSplit(v, ',', absl::SkipWhitespace())) {
      std::pair<absl::string_view, absl::string_view> kv =
          absl::StrSplit(pair, absl::MaxSplits('=', 1));
      const std::string key(absl::StripAsciiWhitespace(kv.first));
      if (key.empty() || !absl::StrContains(pair, '=')) {
        return BadVariable(n, v, "want label=value pairs separated by commas");
      }
      grouping[key] = std::string(absl::StripAsciiWhitespace(kv.second));
    }
    next.push_grouping = std::move(grouping);
    return absl::OkStatus();
  });
  apply("VITALS_PUSH_INTERVAL", [&](absl::string_view n, absl::string_view v) {
    return ParseDurationValue(n, v, &next.push_interval);
  });
  apply("VITALS_PUSH_TIMEOUT", [&](absl::string_view n, absl::string_view v) {
    return ParseDurationValue(n, v, &next.push_timeout);
  });
  apply("VITALS_PUSH_DELETE_ON_STOP", [&](absl::string_view n, absl::string_view v) {
    return ParseBool(n, v, &next.push_delete_on_stop);
  });
  apply("VITALS_PROC_ROOT", SetTrimmed(&next.proc_root));
  if (!status.ok()) return status;
  options = std::move(next);
  return absl::OkStatus();
}

absl::Status ValidateOptions(const Options& options) {
  if (auto addr = internal::ParseListenAddress(options.listen); !addr.ok()) {
    return addr.status();
  }
  auto bad = [](absl::string_view field, absl::string_view why) {
    return absl::InvalidArgumentError(absl::StrCat("option ", field, ": ", why));
  };
  if (options.http_threads < 1 || options.http_threads > 64) {
    return bad("http_threads", absl::StrCat(options.http_threads, " is not in 1..64"));
  }
  if (options.http_header_timeout < absl::Milliseconds(10) ||
      options.http_header_timeout > absl::Minutes(5)) {
    return bad(
        "http_header_timeout",
        absl::StrCat(absl::FormatDuration(options.http_header_timeout), " is not in 10ms..5m"));
  }
  if (options.http_request_timeout < absl::Milliseconds(10) ||
      options.http_request_timeout > absl::Hours(1)) {
    return bad(
        "http_request_timeout",
        absl::StrCat(absl::FormatDuration(options.http_request_timeout), " is not in 10ms..1h"));
  }
  if (options.http_max_connections < 16 || options.http_max_connections > 1000000) {
    return bad("http_max_connections",
               absl::StrCat(options.http_max_connections, " is not in 16..1000000"));
  }
  if (options.tls_cert_file.empty() != options.tls_key_file.empty()) {
    return bad("tls_cert_file/tls_key_file",
               "set both (VITALS_TLS_CERT_FILE and "
               "VITALS_TLS_KEY_FILE) or neither");
  }
  if (!options.tls_client_ca_file.empty() && options.tls_cert_file.empty()) {
    return bad("tls_client_ca_file",
               "client certificates need TLS: set tls_cert_file and "
               "tls_key_file too");
  }
  if (absl::Status s = internal::ValidateBuckets("http_server_request_duration_seconds",
                                                 options.request_duration_buckets);
      !s.ok()) {
    return bad("request_duration_buckets", s.message());
  }
  if (options.slow_request_threshold < absl::ZeroDuration()) {
    return bad("slow_request_threshold", "must not be negative");
  }
  if (options.series_limit < 1 || options.series_limit > 1000000) {
    return bad("series_limit", absl::StrCat(options.series_limit, " is not in 1..1000000"));
  }
  if (!(options.log_lines_per_second > 0) || options.log_burst < 1) {
    return bad("log_lines_per_second/log_burst", "must be positive");
  }
  if (options.sample_interval < absl::Milliseconds(10) ||
      options.sample_interval > absl::Hours(1)) {
    return bad("sample_interval",
               absl::StrCat(absl::FormatDuration(options.sample_interval), " is not in 10ms..1h"));
  }
  if (options.heap_growth_window < absl::Seconds(1) ||
      options.heap_growth_window > absl::Hours(24)) {
    return bad("heap_growth_window", absl::StrCat(absl::FormatDuration(options.heap_growth_window),
                                                  " is not in 1s..24h"));
  }
  if (options.memory_log_interval < absl::ZeroDuration()) {
    return bad("memory_log_interval", "must not be negative");
  }
  if (options.proc_root.empty()) return bad("proc_root", "must not be empty");
  if (!options.pushgateway_url.empty() && !absl::StartsWith(options.pushgateway_url, "http://") &&
      !absl::StartsWith(options.pushgateway_url, "https://")) {
    return bad("pushgateway_url", absl::StrCat("\"", options.pushgateway_url.substr(0, 200),
                                               "\" is not an http:// or https:// URL"));
  }
  for (const auto& [key, value] : options.push_grouping) {
    if (!internal::IsValidLabelName(key) || key == "job") {
      return bad("push_grouping",
                 absl::StrCat("\"", key.substr(0, 100), "\" is not a usable label name"));
    }
  }
  if (options.push_interval < absl::ZeroDuration() ||
      (options.push_interval > absl::ZeroDuration() &&
       options.push_interval < absl::Milliseconds(100)) ||
      options.push_interval > absl::Hours(24)) {
    return bad("push_interval", absl::StrCat(absl::FormatDuration(options.push_interval),
                                             " is not 0 or in 100ms..24h"));
  }
  if (options.push_timeout < absl::Milliseconds(10) || options.push_timeout > absl::Minutes(5)) {
    return bad("push_timeout",
               absl::StrCat(absl::FormatDuration(options.push_timeout), " is not in 10ms..5m"));
  }
  if (options.n_plus_one_threshold < 2 || options.n_plus_one_threshold > 100000) {
    return bad("n_plus_one_threshold",
               absl::StrCat(options.n_plus_one_threshold, " is not in 2..100000"));
  }
  if (options.profile_max_duration < absl::Seconds(1) ||
      options.profile_max_duration > absl::Hours(1)) {
    return bad(
        "profile_max_duration",
        absl::StrCat(absl::FormatDuration(options.profile_max_duration), " is not in 1s..1h"));
  }
  for (const auto& [field, value] :
       {std::make_pair("profiling_basic_auth", &options.profiling_basic_auth),
        std::make_pair("metrics_basic_auth", &options.metrics_basic_auth)}) {
    const size_t colon = value->find(':');
    if (!value->empty() && (colon == std::string::npos || colon == 0)) {
      // The value is a secret: never echo it.
      return bad(field, "want user:password with a non-empty user");
    }
  }
  return absl::OkStatus();
}

}  // namespace vitals
