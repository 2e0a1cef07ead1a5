// The vitals demo: a small HTTP service (cpp-httplib) with the agent linked in, and a built-in
// load generator so its dashboards have something to show.
//
//   demo_service [--port=8080] [--load-rps=40] [--load-threads=2] [--leak-cap-mb=256]
//                [--cache-entries=200] [--outage-period=60] [--trace-log=FILE]
//                [--postgres=CONNINFO] [--grpc-port=50051]
//
// Routes: / , GET /users/:id, GET /products/:id (behind a vitals::LruCache), POST /orders, GET
// /search (a slow tail), GET /orders/recent/n-plus-one and /join (the database: N+1 and a join),
// POST /orders/import/:id (an insert that fails once its id exists), GET /accounts/by-email/:email
// and /accounts/by-id/:id (a lookup by an unindexed column, which the agent's EXPLAIN flags, and
// its twin by primary key), GET /flaky (20% 500s), GET /cpu
// (CPU-heavy), POST /memory/leak (keeps 256 KiB more, up to the cap: a deliberate, bounded leak),
// POST /memory/free (gives it all back), GET /delay/:ms (sleeps that many milliseconds, at most
// 2000: a latency a test controls), POST /checkout (reserves the item on an "inventory" upstream of
// three instances, one slow and flaky, in round robin, each behind a circuit breaker: see
// InventoryUpstreams), GET /checkout/quote/sequential and /parallel (a quote from each inventory
// instance, one after another or all at once), POST /reports?count=N (queues N reports on a
// pool of two workers: see ReportWorkers).
//
// With gRPC (built when it is found: examples/demo_grpc.h), an "inventory" gRPC service on
// 127.0.0.1:--grpc-port (0: a free port) beside the HTTP one, recorded by the vitals
// interceptor, and a load thread that calls it at a quarter of --load-rps.
//
// The load generator sends a W3C `traceparent` header with every request, as a traced client
// would, so the request-duration buckets carry exemplars; --trace-log appends each trace id it
// sends to FILE, one per line.
//
// The database is SQLite in memory, or the PostgreSQL that --postgres names (a libpq key=value
// connection string; scripts/demo starts a throwaway one when it can): examples/demo_store.h.
// Slow statements are explained (explain_threshold 1ms here unless VITALS_EXPLAIN_THRESHOLD
// says otherwise, at most once a minute per statement).
//
// The service listens on 127.0.0.1:PORT (0 picks a free port); the agent serves /metrics on
// VITALS_LISTEN (default 0.0.0.0:9464). Runs until SIGINT or SIGTERM.

#include <signal.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "examples/cpu_work.h"
#include "examples/demo_db.h"
#if VITALS_DEMO_GRPC
#include "examples/demo_grpc.h"
#endif
#if VITALS_DEMO_POSTGRES
#include "examples/demo_pg.h"
#endif
#include "examples/worker_pool.h"
#include "vitals/agent.h"
#include "vitals/httplib.h"
#include "vitals/lru_cache.h"

namespace {

std::atomic<bool> g_stop{false};

// Memory the /memory/leak route keeps on purpose, up to a cap, so the memory dashboard and the
// leak alert have a real leak to show; /memory/free gives it back.
class DeliberateLeak {
 public:
  static constexpr size_t kBlock = 256 * 1024;

  explicit DeliberateLeak(size_t cap_bytes) : cap_(cap_bytes) {}

  // Keeps `bytes` more (touched, so it is resident) unless at the cap. Returns the JSON answer.
  // Never inlined, so heap profiles name it as the allocating function.
  __attribute__((noinline)) std::string Leak(size_t bytes) {
    std::lock_guard<std::mutex> lock(mu_);
    if (kept_ + bytes <= cap_) {
      blocks_.emplace_back(new char[bytes]);
      std::memset(blocks_.back().get(), 0x5a, bytes);
      kept_ += bytes;
    }
    return Answer();
  }
  std::string Free() {
    std::lock_guard<std::mutex> lock(mu_);
    blocks_.clear();
    kept_ = 0;
    return Answer();
  }

 private:
  std::string Answer() const {
    return "{\"kept_bytes\":" + std::to_string(kept_) +
           ",\"full\":" + (kept_ + kBlock > cap_ ? "true" : "false") + "}\n";
  }

  const size_t cap_;
  std::mutex mu_;
  std::vector<std::unique_ptr<char[]>> blocks_;
  size_t kept_ = 0;
};

void OnSignal(int) { g_stop.store(true); }

void SleepMs(int ms) { std::this_thread::sleep_for(std::chrono::milliseconds(ms)); }

struct Flags {
  int port = 8080;
  double load_rps = 40;
  int load_threads = 2;
  int leak_cap_mb = 256;
  int cache_entries = 200;
  int outage_period = 60;  // seconds; the flaky inventory instance fails in the second half
  std::string trace_log;
  std::string postgres;   // libpq connection string; empty: SQLite in memory
  int grpc_port = 50051;  // the gRPC service's (built with gRPC only); 0: a free port
};

Flags ParseFlags(int argc, char** argv) {
  Flags f;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&](const char* name) -> const char* {
      size_t n = std::strlen(name);
      return a.compare(0, n, name) == 0 ? argv[i] + n : nullptr;
    };
    if (const char* v = value("--port=")) {
      f.port = std::atoi(v);
    } else if (const char* v = value("--trace-log=")) {
      f.trace_log = v;
    } else if (const char* v = value("--postgres=")) {
      f.postgres = v;
    } else if (const char* v = value("--load-rps=")) {
      f.load_rps = std::atof(v);
    } else if (const char* v = value("--load-threads=")) {
      f.load_threads = std::atoi(v);
    } else if (const char* v = value("--outage-period=")) {
      f.outage_period = std::max(2, std::atoi(v));
    } else if (const char* v = value("--cache-entries=")) {
      f.cache_entries = std::atoi(v);
    } else if (const char* v = value("--leak-cap-mb=")) {
      f.leak_cap_mb = std::atoi(v);
    } else if (const char* v = value("--grpc-port=")) {
      f.grpc_port = std::atoi(v);
    } else {
      std::fprintf(stderr,
                   "usage: %s [--port=8080] [--load-rps=40] [--load-threads=2] [--leak-cap-mb=256] "
                   "[--cache-entries=200] [--outage-period=60] [--trace-log=FILE] "
                   "[--postgres=CONNINFO] [--grpc-port=50051]\n",
                   argv[0]);
      std::exit(2);
    }
  }
  return f;
}

// Sends a weighted mix of requests, including paths no route matches, at about `rps` requests
// per second in total, until stopped; with `bursts`, also 60 reports at once every 30 s (the
// first 10 s after start).
// A new trace for each request: `traceparent: 00-<trace id>-<span id>-01`, its trace id also
// appended to `trace_log` when open.
class Tracer {
 public:
  Tracer(int seed, std::FILE* trace_log) : rng_(static_cast<uint64_t>(seed)), log_(trace_log) {}
  std::string NextTraceparent() {
    char trace_id[33], span_id[17];
    std::snprintf(trace_id, sizeof trace_id, "%016llx%016llx",
                  static_cast<unsigned long long>(rng_() | 1),
                  static_cast<unsigned long long>(rng_()));
    std::snprintf(span_id, sizeof span_id, "%016llx", static_cast<unsigned long long>(rng_() | 1));
    if (log_ != nullptr) {
      static std::mutex mu;
      std::lock_guard<std::mutex> lock(mu);
      std::fprintf(log_, "%s\n", trace_id);
      std::fflush(log_);
    }
    return std::string("00-") + trace_id + "-" + span_id + "-01";
  }

 private:
  std::mt19937_64 rng_;
  std::FILE* log_;
};

void GenerateLoad(int port, double rps, int seed, std::FILE* trace_log, bool bursts) {
  httplib::Client client("127.0.0.1", port);
  client.set_connection_timeout(2);
  client.set_read_timeout(5);
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> pick(0, 99);
  Tracer tracer(seed, trace_log);
  const auto period = std::chrono::duration<double>(1.0 / rps);
  auto next = std::chrono::steady_clock::now();
  auto next_burst = next + std::chrono::seconds(10);
  while (!g_stop.load()) {
    if (bursts && std::chrono::steady_clock::now() >= next_burst) {
      client.Post("/reports?count=60", "", "text/plain");  // saturates the report workers
      next_burst += std::chrono::seconds(30);
    }
    client.set_default_headers({{"traceparent", tracer.NextTraceparent()}});
    const int p = pick(rng);
    const std::string id = std::to_string(pick(rng) * 7 + 1);
    if (p < 21) {
      client.Get(("/users/" + id).c_str());
    } else if (p < 23) {
      client.Get(
          ("/accounts/by-email/a" + std::to_string(1 + rng() % 50000) + "@example.com").c_str());
    } else if (p < 25) {
      client.Get(("/accounts/by-id/" + std::to_string(1 + rng() % 50000)).c_str());
    } else if (p < 31) {
      client.Get("/orders/recent/n-plus-one");
    } else if (p < 37) {
      client.Get("/orders/recent/join");
    } else if (p < 48) {
      // Skewed like real traffic: 75% of lookups go to 100 hot products, the rest are spread
      // over 10,000 cold ones, through a cache of --cache-entries.
      const int product = pick(rng) < 75 ? pick(rng) : 100 + static_cast<int>(rng() % 10000);
      client.Get(("/products/" + std::to_string(product)).c_str());
    } else if (p < 53) {
      client.Post("/orders", "{\"item\":" + id + "}", "application/json");
    } else if (p < 56) {
      // Ids from a small range: once each was imported, every import fails on the key.
      client.Post(("/orders/import/" + std::to_string(2001 + pick(rng))).c_str(), "", "text/plain");
    } else if (p < 66) {
      client.Get("/search?q=widgets");
    } else if (p < 68) {
      client.Get("/checkout/quote/sequential");
    } else if (p < 70) {
      client.Get("/checkout/quote/parallel");
    } else if (p < 80) {
      client.Get("/flaky");
    } else if (p < 87) {
      client.Get("/cpu");
    } else if (p < 88) {
      client.Get("/");
    } else if (p < 93) {
      client.Post("/checkout", "{\"item\":" + id + "}", "application/json");
    } else if (p < 94) {
      client.Post("/reports", "", "text/plain");
    } else if (p < 97) {
      // The deliberate, bounded leak: memory climbs until the cap, then is given back.
      auto res = client.Post("/memory/leak", "", "text/plain");
      if (res && res->body.find("\"full\":true") != std::string::npos) {
        client.Post("/memory/free", "", "text/plain");
      }
    } else {
      client.Get(("/no/such/page/" + id).c_str());  // unmatched: one fixed route label
    }
    next += std::chrono::duration_cast<std::chrono::steady_clock::duration>(period);
    const auto now = std::chrono::steady_clock::now();
    if (next > now) {
      std::this_thread::sleep_until(next);
    } else {
      next = now;
    }
  }
}

// Three instances of an "inventory" upstream, served by this process on loopback ports as a
// service behind a load balancer sees them: two quick ones and one slow and flaky (50-250 ms;
// it is out for the second half of every --outage-period, 30 s of each minute by default, when
// 80% of its answers are 503, and 5% otherwise).
// POST /checkout asks them in turn (round robin) through vitals::HttplibClient, one per
// instance, so each instance's latency and errors show apart in
// http_client_request_duration_seconds. Each instance sits behind a vitals::CircuitBreaker
// ("inventory-1".."inventory-3"): the flaky one's opens in its outages, refuses calls for 10 s,
// probes and closes again when the outage is over. A refused or failed reservation is tried on
// the next instance, twice at most.
class InventoryUpstreams {
 public:
  InventoryUpstreams(vitals::Agent& agent, int outage_period) {
    const auto born = std::chrono::steady_clock::now();
    for (int i = 0; i < 3; ++i) {
      auto inst = std::make_unique<Instance>();
      const bool flaky = i == 2;
      inst->server.Post("/reserve", [flaky, born, outage_period](const httplib::Request&,
                                                                 httplib::Response& res) {
        if (flaky) {
          SleepMs(50 + std::rand() % 200);
          const auto age = std::chrono::duration_cast<std::chrono::seconds>(
              std::chrono::steady_clock::now() - born);
          const bool outage = age.count() % outage_period >= outage_period / 2;
          if (std::rand() % 100 < (outage ? 80 : 5)) {
            res.status = 503;
            return;
          }
        } else {
          SleepMs(1 + std::rand() % 4);
        }
        res.set_content("{\"reserved\":true}", "application/json");
      });
      inst->server.Get("/quote", [](const httplib::Request&, httplib::Response& res) {
        SleepMs(3);  // every instance quotes quickly, the flaky one too
        res.set_content("{\"price\":42}", "application/json");
      });
      const int port = inst->server.bind_to_any_port("127.0.0.1");
      if (port <= 0) continue;
      inst->thread = std::thread([s = &inst->server] { s->listen_after_bind(); });
      inst->client = std::make_unique<vitals::HttplibClient>(agent, "127.0.0.1", port);
      inst->client->set_connection_timeout(absl::Milliseconds(200));
      inst->client->set_read_timeout(absl::Seconds(1));
      vitals::CircuitBreakerOptions options;
      options.sliding_window_size = 10;
      options.minimum_number_of_calls = 5;
      options.failure_rate_threshold = 50;
      options.wait_duration_in_open_state = absl::Seconds(10);
      options.permitted_calls_in_half_open_state = 2;
      options.slow_call_duration_threshold = absl::Milliseconds(500);
      inst->breaker = std::make_unique<vitals::CircuitBreaker>("inventory-" + std::to_string(i + 1),
                                                               options, &agent);
      instances_.push_back(std::move(inst));
    }
  }
  ~InventoryUpstreams() {
    for (auto& inst : instances_) inst->server.stop();
    for (auto& inst : instances_) inst->thread.join();
  }

  // Asks every instance for a quote, one after another (GET /checkout/quote/sequential: the
  // calls could overlap, and vitals_http_server_sequential_calls_total says so) or all at once
  // on threads of their own, each bound to the request with a vitals::RequestContext
  // (GET /checkout/quote/parallel: the same calls, about a third of the time).
  int Quotes(bool parallel) {
    std::atomic<int> answered{0};
    auto ask = [&](Instance& inst) {
      std::lock_guard<std::mutex> lock(inst.mu);  // one call at a time per client
      auto res = inst.client->Get("/quote");
      if (res && res->status == 200) answered.fetch_add(1);
    };
    if (!parallel) {
      for (auto& inst : instances_) ask(*inst);
      return answered.load();
    }
    const vitals::RequestContext request = vitals::RequestContext::Current();
    std::vector<std::thread> calls;
    for (auto& inst : instances_) {
      calls.emplace_back([&, i = inst.get()] {
        vitals::RequestContext::Bind bind(request);  // the call counts for the request
        ask(*i);
      });
    }
    for (auto& t : calls) t.join();
    return answered.load();
  }

  // Reserves `item` on the next instance whose breaker lets the call through, then once more
  // on the one after if that failed.
  bool Reserve(const std::string& body) {
    if (instances_.empty()) return false;
    for (int attempt = 0; attempt < 2; ++attempt) {
      Instance& inst = *instances_[next_.fetch_add(1) % instances_.size()];
      auto permit = inst.breaker->TryAcquire();
      if (!permit) continue;  // open: fail fast, try the next instance
      const auto start = std::chrono::steady_clock::now();
      std::lock_guard<std::mutex> lock(inst.mu);  // one call at a time per client
      auto res = inst.client->Post("/reserve", body, "application/json");
      const absl::Duration elapsed = absl::FromChrono(std::chrono::steady_clock::now() - start);
      if (res && res->status == 200) {
        inst.breaker->OnSuccess(permit, elapsed);
        return true;
      }
      inst.breaker->OnFailure(permit, elapsed);
    }
    return false;
  }

 private:
  struct Instance {
    httplib::Server server;
    std::thread thread;
    std::unique_ptr<vitals::HttplibClient> client;
    std::unique_ptr<vitals::CircuitBreaker> breaker;
    std::mutex mu;
  };
  std::vector<std::unique_ptr<Instance>> instances_;
  std::atomic<uint64_t> next_{0};
};

// Report rendering on a pool of two workers (examples/worker_pool.h), reported as the executor
// "reports": POST /reports?count=N queues N reports (20-60 ms each; about one in 200 takes
// 2.5 s, past the 2 s stall threshold) and answers 202 at once. The load generator asks for one
// now and then, and for a burst of 60 every 30 s, which saturates the pool for a second or two:
// the queue and the wait climb, then drain.
class ReportWorkers {
 public:
  explicit ReportWorkers(vitals::Agent& agent) {
    // [readme:executor_register]
    vitals::ExecutorOptions options;
    options.pool_size = 2;
    options.queue_capacity = 500;
    options.stall_threshold = absl::Seconds(2);  // a task running longer is logged and counted
    absl::StatusOr<vitals::ExecutorMonitor> monitor = agent.Executor("reports", options);
    // [/readme:executor_register]
    if (!monitor.ok()) {
      std::fprintf(stderr, "demo: %s\n", monitor.status().ToString().c_str());
      return;
    }
    pool_ = std::make_unique<demo::WorkerPool>(*monitor, options.pool_size,
                                               static_cast<size_t>(options.queue_capacity));
  }

  // Queues `count` reports; how many were accepted.
  int Queue(int count) {
    int accepted = 0;
    for (int i = 0; i < count && pool_ != nullptr; ++i) {
      const bool stall = std::rand() % 200 == 0;
      const int ms = stall ? 2500 : 20 + std::rand() % 40;
      if (!pool_->Submit(stall ? "render_report_pdf" : "render_report", [ms] { SleepMs(ms); })) {
        break;
      }
      ++accepted;
    }
    return accepted;
  }

 private:
  std::unique_ptr<demo::WorkerPool> pool_;
};

}  // namespace

int main(int argc, char** argv) {
  const Flags flags = ParseFlags(argc, argv);

  vitals::Options options;
  options.explain_threshold = absl::Milliseconds(1);  // the demo's slow statements explained
  options.explain_interval = absl::Minutes(1);
  vitals::Agent agent(options);  // VITALS_* environment variables apply over these
  if (absl::Status s = agent.Start(); !s.ok()) {
    std::fprintf(stderr, "demo: the vitals agent could not start: %s\n", s.ToString().c_str());
    return 1;
  }

  httplib::Server server;
  server.set_tcp_nodelay(true);  // else keep-alive clients wait ~40 ms per answer (Nagle)
  vitals::HttplibInstrumentation routes(agent, server);
  std::mt19937 seed_rng(42);
  routes.Get("/", [](const httplib::Request&, httplib::Response& res) {
    res.set_content("vitals demo service\n", "text/plain");
  });
  routes.Get("/users/:id", [](const httplib::Request& req, httplib::Response& res) {
    SleepMs(1 + std::rand() % 5);
    res.set_content("{\"id\":" + req.matches[1].str() + ",\"name\":\"user\"}", "application/json");
  });
  routes.Post("/orders", [](const httplib::Request&, httplib::Response& res) {
    SleepMs(5 + std::rand() % 15);
    res.status = 201;
    res.set_content("{\"ok\":true}", "application/json");
  });
  routes.Get("/search", [](const httplib::Request&, httplib::Response& res) {
    // Mostly quick, with a slow tail: about 2% take over a second.
    SleepMs(std::rand() % 100 < 2 ? 1100 + std::rand() % 400 : 10 + std::rand() % 70);
    res.set_content("[]", "application/json");
  });
  routes.Get("/flaky", [](const httplib::Request&, httplib::Response& res) {
    SleepMs(2 + std::rand() % 10);
    if (std::rand() % 100 < 20) {
      res.status = 500;
      res.set_content("backend unavailable\n", "text/plain");
    } else {
      res.set_content("ok\n", "text/plain");
    }
  });
  routes.Get("/delay/:ms", [](const httplib::Request& req, httplib::Response& res) {
    const int ms = std::clamp(std::atoi(req.matches[1].str().c_str()), 0, 2000);
    SleepMs(ms);
    res.set_content(std::to_string(ms) + "\n", "text/plain");
  });
  routes.Get("/cpu", [](const httplib::Request&, httplib::Response& res) {
    res.set_content(std::to_string(demo::CpuHeavyWork(demo::kCpuRouteRounds)) + "\n", "text/plain");
  });
  // A product catalogue behind an instrumented LRU cache; a miss costs a slow "database" read.
  vitals::LruCache<int, std::string>::Options cache_options;
  cache_options.max_entries = static_cast<size_t>(std::max(1, flags.cache_entries));
  cache_options.ttl = absl::Minutes(5);
  vitals::LruCache<int, std::string> products(agent, "products", cache_options);
  routes.Get("/products/:id", [&products](const httplib::Request& req, httplib::Response& res) {
    const int id = std::atoi(req.matches[1].str().c_str());
    absl::StatusOr<std::string> product =
        products.GetOrLoad(id, [id]() -> absl::StatusOr<std::string> {
          SleepMs(3 + std::rand() % 8);  // the database round trip a hit saves
          return "{\"id\":" + std::to_string(id) + ",\"name\":\"product\"}\n";
        });
    if (product.ok()) {
      res.set_content(*product, "application/json");
    } else {
      res.status = 503;
      res.set_content(std::string(product.status().message()), "text/plain");
    }
  });
  // Orders, users and accounts in SQLite or PostgreSQL behind a pool of 4 connections.
  std::unique_ptr<demo::Store> store;
  if (!flags.postgres.empty()) {
#if VITALS_DEMO_POSTGRES
    absl::StatusOr<std::unique_ptr<demo::PgStore>> pg = demo::PgStore::Open(agent, flags.postgres);
    if (!pg.ok()) {
      std::fprintf(stderr, "demo: %s\n", pg.status().ToString().c_str());
      return 1;
    }
    store = std::move(*pg);
#else
    std::fprintf(stderr, "demo: built without libpq (libpq-dev): no --postgres\n");
    return 1;
#endif
  } else {
    store = std::make_unique<demo::Database>(agent, 4);
  }
  demo::Store& database = *store;
  std::fprintf(stderr, "demo: database: %s\n", database.system());
  auto answer = [](httplib::Response& res, const absl::StatusOr<std::string>& body) {
    if (body.ok()) {
      res.set_content(*body, "application/json");
    } else {
      res.status = 503;
      res.set_content(std::string(body.status().message()) + "\n", "text/plain");
    }
  };
  routes.Get("/orders/recent/n-plus-one", [&](const httplib::Request&, httplib::Response& res) {
    answer(res, database.RecentOrdersNPlusOne());
  });
  routes.Get("/orders/recent/join", [&](const httplib::Request&, httplib::Response& res) {
    answer(res, database.RecentOrdersJoin());
  });
  routes.Get("/accounts/by-email/:email", [&](const httplib::Request& req, httplib::Response& res) {
    answer(res, database.AccountByEmail(req.matches[1].str()));
  });
  routes.Get("/accounts/by-id/:id", [&](const httplib::Request& req, httplib::Response& res) {
    answer(res, database.AccountById(std::atoll(req.matches[1].str().c_str())));
  });
  routes.Post("/orders/import/:id", [&](const httplib::Request& req, httplib::Response& res) {
    const absl::Status s = database.ImportOrder(std::atoll(req.matches[1].str().c_str()));
    res.status = s.ok() ? 201 : absl::IsAlreadyExists(s) ? 409 : 503;
  });
  InventoryUpstreams inventory(agent, flags.outage_period);
  routes.Post("/checkout", [&inventory](const httplib::Request& req, httplib::Response& res) {
    if (inventory.Reserve(req.body)) {
      res.set_content("{\"ok\":true}", "application/json");
    } else {
      res.status = 502;
      res.set_content("{\"ok\":false}", "application/json");
    }
  });
  routes.Get("/checkout/quote/sequential",
             [&inventory](const httplib::Request&, httplib::Response& res) {
               res.set_content("{\"quotes\":" + std::to_string(inventory.Quotes(false)) + "}",
                               "application/json");
             });
  routes.Get("/checkout/quote/parallel",
             [&inventory](const httplib::Request&, httplib::Response& res) {
               res.set_content("{\"quotes\":" + std::to_string(inventory.Quotes(true)) + "}",
                               "application/json");
             });
  ReportWorkers reports(agent);
  routes.Post("/reports", [&reports](const httplib::Request& req, httplib::Response& res) {
    const int count = std::clamp(
        req.has_param("count") ? std::atoi(req.get_param_value("count").c_str()) : 1, 1, 200);
    const int accepted = reports.Queue(count);
    res.status = accepted == count ? 202 : 503;
    res.set_content("{\"queued\":" + std::to_string(accepted) + "}", "application/json");
  });
  DeliberateLeak leak(static_cast<size_t>(flags.leak_cap_mb) << 20);
  routes.Post("/memory/leak", [&leak](const httplib::Request&, httplib::Response& res) {
    res.set_content(leak.Leak(DeliberateLeak::kBlock), "application/json");
  });
  routes.Post("/memory/free", [&leak](const httplib::Request&, httplib::Response& res) {
    res.set_content(leak.Free(), "application/json");
  });

#if VITALS_DEMO_GRPC
  // The gRPC inventory service: one database read per SKU (counted toward the call).
  demo::InventoryGrpc inventory_grpc([&database](const std::string& sku) {
    const int n = std::atoi(sku.c_str() + std::min<size_t>(4, sku.size()));
    return database.AccountById(1 + n % 50000).ok() && n < 9000;
  });
  int grpc_port = flags.grpc_port;
  std::unique_ptr<grpc::Server> grpc_server =
      demo::ServeInventory(agent, inventory_grpc, &grpc_port);
  if (grpc_server == nullptr) {
    std::fprintf(stderr, "demo: cannot serve gRPC on 127.0.0.1:%d (in use?)\n", flags.grpc_port);
    return 1;
  }
  // GET /inventory/:sku asks the gRPC service (an outbound RPC of the HTTP request, through the
  // vitals client interceptor): 200 with the count, 404 for an unknown SKU, 503 otherwise.
  auto inventory_stub = demo::Inventory::NewStub(vitals::CreateGrpcChannel(
      agent, "127.0.0.1:" + std::to_string(grpc_port), grpc::InsecureChannelCredentials()));
  routes.Get("/inventory/:sku", [&inventory_stub](const httplib::Request& req,
                                                  httplib::Response& res) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(2));
    demo::StockRequest request;
    request.set_sku(req.matches[1].str());
    demo::StockReply reply;
    const grpc::Status status = inventory_stub->GetStock(&context, request, &reply);
    if (status.ok()) {
      res.set_content("{\"count\":" + std::to_string(reply.count()) + "}\n", "application/json");
    } else {
      res.status = status.error_code() == grpc::StatusCode::NOT_FOUND ? 404 : 503;
      res.set_content(status.error_message() + "\n", "text/plain");
    }
  });
#else
  std::fprintf(stderr, "demo: built without gRPC (libgrpc++-dev): no gRPC service\n");
#endif

  struct sigaction sa {};
  sa.sa_handler = OnSignal;
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);

  int port = flags.port;
  if (port == 0) {
    port = server.bind_to_any_port("127.0.0.1");
  } else if (!server.bind_to_port("127.0.0.1", port)) {
    port = -1;
  }
  if (port <= 0) {
    std::fprintf(stderr, "demo: cannot listen on 127.0.0.1:%d (in use?)\n", flags.port);
    return 1;
  }
  std::thread serve([&] { server.listen_after_bind(); });

  std::FILE* trace_log = nullptr;
  if (!flags.trace_log.empty() &&
      (trace_log = std::fopen(flags.trace_log.c_str(), "a")) == nullptr) {
    std::fprintf(stderr, "demo: cannot open --trace-log=%s\n", flags.trace_log.c_str());
    return 1;
  }
  std::vector<std::thread> load;
  if (flags.load_rps > 0) {
    for (int i = 0; i < flags.load_threads; ++i) {
      load.emplace_back(GenerateLoad, port, flags.load_rps / flags.load_threads,
                        static_cast<int>(seed_rng()), trace_log, /*bursts=*/i == 0);
    }
  }
#if VITALS_DEMO_GRPC
  Tracer grpc_tracer(static_cast<int>(seed_rng()), trace_log);
  if (flags.load_rps > 0) {
    load.emplace_back([&agent, grpc_port, &flags, &grpc_tracer] {
      demo::GenerateGrpcLoad(agent, grpc_port, std::max(1.0, flags.load_rps / 4), g_stop,
                             [&grpc_tracer] { return grpc_tracer.NextTraceparent(); });
    });
  }
  std::printf("demo service: grpc: 127.0.0.1:%d (demo.Inventory)\n", grpc_port);
#endif
  std::printf("demo service: http://127.0.0.1:%d/  metrics: %s://127.0.0.1:%d/metrics\n", port,
              agent.options().tls_cert_file.empty() ? "http" : "https", agent.port());
  std::fflush(stdout);

  while (!g_stop.load()) SleepMs(100);
  for (auto& t : load) t.join();
#if VITALS_DEMO_GRPC
  grpc_server->Shutdown();
#endif
  if (trace_log != nullptr) std::fclose(trace_log);
  server.stop();
  serve.join();
  agent.Stop();
  std::printf("demo service: stopped\n");
  return 0;
}
