// vitals/db.h: database call timing, per-request query counts with N+1 detection, and
// connection-pool metrics (OpenTelemetry semantic-convention names).
//
//   { vitals::DbOperation op(agent, "sqlite", sql);  ... run the statement ... }
//   agent.RecordDbOperation("postgresql", sql, elapsed);      // when the time is known
//
// Each call observes `db_client_operation_duration_seconds{db_system_name,db_operation_name,
// db_collection_name,error_type,db_namespace,server_address,server_port}` (`error_type` empty
// unless the call failed: DbOperation::set_error, or the `error_type` of
// Agent::RecordDbOperation; the last three empty unless a DbTarget gives them). The
// statement text never becomes a label: it is normalized (literals to ?, IN lists collapsed,
// comments and whitespace folded; see the README) and used only to group calls and in log lines.
//
// While a RequestScope (vitals/request.h) is active on a thread, database calls recorded on that
// thread belong to its request. When the request ends, `http_server_request_db_queries{
// http_request_method,http_route}` observes how many it made; if it ran one normalized statement
// at least `Options::n_plus_one_threshold` times (default 5),
// `vitals_db_n_plus_one_total{http_route,db_collection_name}` counts once for that request, and a
// warning names the route, the statement and its count (at most one line per route and
// statement a minute, saying how many more requests did the same). Services that hop threads carry
// the request along:
//
//   vitals::RequestContext ctx = vitals::RequestContext::Current();   // on the request thread
//   pool.Submit([ctx] { vitals::RequestContext::Bind bind(ctx); ... queries ... });
//
// Slow statements can be explained and read for missing indexes (Options::explain_threshold;
// vitals/explain.h): DbOperation::set_plan_input gives the agent what EXPLAIN needs.
//
// Cost (BENCHMARKS.md): recording a call is a per-thread cache lookup of the statement text (the
// normalization runs once per distinct text per thread), a histogram observe on per-CPU
// cells, the statement's calls and time (one more per-CPU add, and a read of its longest
// time) and, inside a request, two uncontended atomic updates on that request's own counters:
// about 45 ns. No lock, no cache line written by another CPU. Thread-safety: everything may be
// used from any thread.

#ifndef VITALS_DB_H_
#define VITALS_DB_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "vitals/detail/export.h"
#include "vitals/explain.h"
#include "vitals/metrics.h"

namespace vitals {

class Agent;

namespace internal {
class DbMetrics;
struct RequestDb;
struct Series;
struct StatementStats;
}  // namespace internal

// Where database calls go, as OpenTelemetry's database attributes, for the labels
// `db_namespace`, `server_address` and `server_port` of db_client_operation_duration_seconds.
// Only `system` is required; the rest are empty (port 0) when not known. Views: the strings
// must live for the call that takes the target (they are copied where kept).
struct DbTarget {
  DbTarget(absl::string_view system, absl::string_view db_namespace = {},
           absl::string_view server_address = {}, int server_port = 0)
      : system(system),
        db_namespace(db_namespace),
        server_address(server_address),
        server_port(server_port) {}
  absl::string_view system;          // db.system.name: "postgresql", "mysql", "sqlite", ...
  absl::string_view db_namespace;    // db.namespace: the database (PostgreSQL: its name)
  absl::string_view server_address;  // server.address: host name, IP or socket directory
  int server_port = 0;               // server.port; 0 = not given
};

// Times one database call from construction to destruction (or Finish) and records it.
//
//   vitals::DbOperation op(agent, "postgresql", sql);
//   PGresult* r = PQexec(conn, sql.c_str());
//   if (PQresultStatus(r) != PGRES_TUPLES_OK) op.set_error(PQresultErrorField(r,
//   PG_DIAG_SQLSTATE));
//
// It keeps nothing it does not own: the statement is normalized and resolved when the operation
// is made (the cost vitals/db.h states, paid then instead of at the end), so `system` and
// `statement` may be temporaries. May outlive its agent: then it records nothing.
class VITALS_EXPORT DbOperation {
 public:
  // `system`: the database system (OpenTelemetry db.system.name: "postgresql", "mysql",
  // "sqlite", ...). `statement`: the SQL as sent.
  DbOperation(Agent& agent, absl::string_view system, absl::string_view statement);
  // The same with where the call goes (vitals/postgres.h passes the connection's).
  DbOperation(Agent& agent, const DbTarget& target, absl::string_view statement);
  ~DbOperation() { Finish(); }
  DbOperation(const DbOperation&) = delete;
  DbOperation& operator=(const DbOperation&) = delete;

  // Marks the call as failed, with `error_type` as OpenTelemetry's `error.type` (the SQLSTATE,
  // an error class such as "timeout", an exception's type name: few distinct values). It is
  // copied (cut to 64 bytes); empty records `_OTHER`. The call is then recorded with that
  // `error_type` label instead of an empty one.
  void set_error(absl::string_view error_type);
  bool failed() const { return failed_; }

  // What EXPLAIN needs when this call turns out slow (Options::explain_threshold; see
  // vitals/explain.h): the statement exactly as sent and its parameters. Views: both must
  // stay valid until the operation finishes (declare the parameter arrays before the
  // operation, so they outlive it); they are copied only for a slow call whose statement is due
  // to be explained. Without it, a slow call is not explained. set_plan_input_copy (below)
  // copies them instead, for callers that cannot order them so.
  void set_plan_input(absl::string_view statement, const StatementParams& params = {}) {
    plan_statement_ = statement;
    plan_params_ = params;
    has_plan_input_ = true;
  }
  // The same, copied now, for a caller whose statement or parameters go before the operation
  // finishes (a value of `null` is SQL NULL; `binary` sends it in the binary format). Costs
  // the copies on every call, slow or not.
  void set_plan_input_copy(absl::string_view statement, std::vector<PlanParam> params = {});

  // Records now; later calls do nothing.
  void Finish();
  // Records nothing.
  void Cancel() { done_ = true; }

 private:
  DbOperation(internal::DbMetrics* metrics, uint64_t life, const DbTarget& target,
              absl::string_view statement);

  internal::DbMetrics* metrics_ = nullptr;
  internal::Series* duration_ = nullptr;  // the series of a successful call of this statement
  internal::StatementStats* stats_ = nullptr;
  uint64_t hash_ = 0;  // of the normalized statement (N+1 detection)
  uint64_t life_ = 0;  // the agent's token (vitals/detail/agent_life.h)
  int64_t start_nanos_ = 0;
  std::string error_;
  absl::string_view plan_statement_;
  StatementParams plan_params_;
  bool has_plan_input_ = false;
  // set_plan_input_copy's copies, and the arrays plan_params_ then points into.
  struct OwnedPlanInput;
  std::shared_ptr<OwnedPlanInput> owned_plan_;
  bool failed_ = false;
  bool done_ = false;
};

// The request database calls on this thread belong to, as a value that can cross threads.
// Cheap to copy. Using one after its request ended is safe: its calls are simply not counted
// for any request.
class VITALS_EXPORT RequestContext {
 public:
  RequestContext() = default;  // no request

  // The request current on this thread (none outside a RequestScope).
  static RequestContext Current();

  // True while it names a request that has not ended.
  bool active() const;

  // Makes `context` current on this thread until destroyed, then restores what was current.
  class VITALS_EXPORT Bind {
   public:
    explicit Bind(const RequestContext& context);
    ~Bind();
    Bind(const Bind&) = delete;
    Bind& operator=(const Bind&) = delete;

   private:
    internal::RequestDb* saved_db_;
    uint64_t saved_generation_;
  };

 private:
  internal::RequestDb* db_ = nullptr;
  uint64_t generation_ = 0;
};

// A connection pool's metrics; the service updates it from its pool.
//   db_client_connections_usage{db_client_connection_pool_name,db_client_connection_state=
//   "idle"|"used"}, and by db_client_connection_pool_name: db_client_connection_max,
//   db_client_connection_pending_requests, db_client_connection_wait_time_seconds,
//   db_client_connection_use_time_seconds, db_client_connection_create_time_seconds,
//   db_client_connection_timeouts_total
// `Add*`, `RecordWait` and `Timeout` cost a per-CPU add (no lock); `Set*` read every CPU's copy
// (see Gauge::Set). A default-constructed DbPool records nothing.
class VITALS_EXPORT DbPool {
 public:
  DbPool() = default;

  void AddUsed(double delta) const { used_.Add(delta); }
  void AddIdle(double delta) const { idle_.Add(delta); }
  void AddPending(double delta) const { pending_.Add(delta); }
  void SetUsed(double n) const { used_.Set(n); }
  void SetIdle(double n) const { idle_.Set(n); }
  void SetPending(double n) const { pending_.Set(n); }
  void SetMax(double n) const { max_.Set(n); }
  // How long a caller waited to get a connection (whether it got one or timed out).
  void RecordWait(absl::Duration wait) const { wait_.Observe(absl::ToDoubleSeconds(wait)); }
  // How long a caller held a connection, from taking it from the pool to giving it back
  // (OpenTelemetry's db.client.connection.use_time).
  void RecordUse(absl::Duration held) const { use_.Observe(absl::ToDoubleSeconds(held)); }
  // How long opening a new connection took (db.client.connection.create_time).
  void RecordCreate(absl::Duration took) const { create_.Observe(absl::ToDoubleSeconds(took)); }
  // A caller gave up waiting for a connection.
  void Timeout() const { timeouts_.Increment(); }

 private:
  friend class internal::DbMetrics;
  Gauge used_, idle_, pending_, max_;
  Histogram wait_, use_, create_;
  Counter timeouts_;
};

}  // namespace vitals

#endif  // VITALS_DB_H_
