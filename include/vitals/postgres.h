// vitals/postgres.h: PostgreSQL through libpq: calls timed and counted like every database call
// (PgSession; vitals/db.h: duration histogram, statement table, N+1 and the request's time
// breakdown), slow statements explained (PgPlanSource), and a connection pool that reports its
// waits (PgPool). Calls are labelled with OpenTelemetry's attributes for PostgreSQL:
// `db_system_name="postgresql"`, `db_namespace` (the database), `server_address` and
// `server_port` (the connection's host and port), and `error_type` the SQLSTATE of a failed
// call.
//
//   PGconn* conn = PQconnectdb("host=db port=5432 dbname=shop");
//   vitals::PgSession db(agent, conn);
//   PGresult* r = db.ExecParams("SELECT name FROM users WHERE id = $1", 1, nullptr, values,
//                               nullptr, nullptr, 0);
//   ... PQclear(r);
//
// Header-only: the vitals library does not link libpq; a service that includes this header
// links libpq itself (Debian: libpq-dev), as it already does to talk to PostgreSQL.
//
// Each method is libpq's function of the same name (PQexec, PQexecParams, PQprepare,
// PQexecPrepared, PQsendQuery, PQsendQueryParams, PQsendQueryPrepared, PQgetResult) with
// the same arguments and results, timed around it. Prepare is not recorded (it plans, it does
// not run the statement, as pg_stat_statements does not count it either); ExecPrepared and
// SendQueryPrepared are recorded with the statement their name was prepared with. A call
// fails when libpq returns no result (`error_type` "08006", connection_failure: the
// connection broke) or a result whose status is PGRES_FATAL_ERROR (its SQLSTATE, or "_OTHER").
// An asynchronous call is recorded when GetResult returns null (its results are all read);
// a Send* while one is in flight records the earlier one first.
//
// Slow statements explained (Options::explain_threshold, vitals/explain.h): the first session
// on a target installs a PgPlanSource for it, which opens its own connection with the
// session's connection parameters when it first explains. Calls pass their statement and
// parameters to the agent (asynchronous ones copy them while explain_threshold is set, as the
// explain may come after the caller's buffers are gone).
//
// Ownership: borrows the connection, which must stay open while the session is used (the
// target labels are read from it at construction; call Refresh after PQreset to another
// server). Thread-safety: one thread at a time, as the PGconn itself. Cost: libpq's call plus
// a DbOperation (vitals/db.h, about 45 ns; BENCHMARKS.md compares both with the bare call).

#ifndef VITALS_POSTGRES_H_
#define VITALS_POSTGRES_H_

#include <libpq-fe.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "vitals/agent.h"
#include "vitals/db.h"
#include "vitals/explain.h"

namespace vitals {

// Explains statements for the agent on a connection of its own (vitals/explain.h): opened on
// first use with the parameters of the connection it was made from (PQconninfo: host, port,
// database, user, password, SSL settings), `application_name=vitals-explain`, a
// `connect_timeout` of the timeout (at least 2 s, libpq's least), and per session
// `statement_timeout` and `lock_timeout` of the timeout and `default_transaction_read_only`.
// Every EXPLAIN goes through PQexecParams, which takes one statement only: text such as
// "SELECT 1; DROP TABLE t" is refused, never run. Only SELECT, INSERT, UPDATE, DELETE, MERGE,
// WITH, VALUES and TABLE statements are explained. A broken connection is opened again at the
// next call. Cancel (any thread) sends PQcancel.
class PgPlanSource : public PlanSource {
 public:
  PgPlanSource(PGconn* conn, absl::Duration timeout) {
    const int64_t ms = std::max<int64_t>(absl::ToInt64Milliseconds(timeout), 1);
    const int64_t connect_s = std::max<int64_t>((ms + 999) / 1000, 2);
    std::string options;
    if (PQconninfoOption* info = conn != nullptr ? PQconninfo(conn) : nullptr) {
      for (PQconninfoOption* o = info; o->keyword != nullptr; ++o) {
        if (o->val == nullptr || o->val[0] == '\0') continue;
        const std::string keyword = o->keyword;
        if (keyword == "options") {
          options = std::string(o->val) + " ";
        } else if (keyword != "connect_timeout" && keyword != "application_name" &&
                   keyword != "fallback_application_name" && keyword != "replication") {
          keywords_.push_back(keyword);
          values_.push_back(o->val);
        }
      }
      PQconninfoFree(info);
    }
    options += "-c statement_timeout=" + std::to_string(ms) +
               " -c lock_timeout=" + std::to_string(ms) + " -c default_transaction_read_only=on";
    keywords_.insert(keywords_.end(), {"options", "connect_timeout", "application_name"});
    values_.insert(values_.end(), {options, std::to_string(connect_s), "vitals-explain"});
  }
  ~PgPlanSource() override { Close(); }

  PlanFormat format() const override { return PlanFormat::kPostgresJson; }

  absl::StatusOr<std::string> Explain(const std::string& statement,
                                      const std::vector<PlanParam>& params) override {
    if (!Explainable(statement)) {
      return absl::InvalidArgumentError(
          "not explained: only SELECT, INSERT, UPDATE, DELETE, MERGE, WITH, VALUES and TABLE "
          "statements are");
    }
    std::vector<Oid> types;
    std::vector<const char*> values;
    std::vector<int> lengths, formats;
    for (const PlanParam& p : params) {
      types.push_back(p.type);
      values.push_back(p.null ? nullptr : p.value.c_str());
      lengths.push_back(static_cast<int>(p.value.size()));
      formats.push_back(p.binary ? 1 : 0);
    }
    return Query("EXPLAIN (FORMAT JSON) " + statement, static_cast<int>(params.size()),
                 types.data(), values.data(), lengths.data(), formats.data());
  }

  absl::StatusOr<double> TableRows(const std::string& table) override {
    std::string quoted;  // "schema"."table" or "table"
    const size_t dot = table.find('.');
    for (const std::string& part :
         dot == std::string::npos
             ? std::vector<std::string>{table}
             : std::vector<std::string>{table.substr(0, dot), table.substr(dot + 1)}) {
      if (!quoted.empty()) quoted += '.';
      quoted += '"';
      for (char c : part) quoted += c == '"' ? std::string("\"\"") : std::string(1, c);
      quoted += '"';
    }
    const char* values[] = {quoted.c_str()};
    absl::StatusOr<std::string> rows =
        Query("SELECT reltuples::float8 FROM pg_class WHERE oid = to_regclass($1)", 1, nullptr,
              values, nullptr, nullptr);
    if (!rows.ok()) return rows.status();
    if (rows->empty()) return absl::NotFoundError("no such table: " + table);
    const double n = std::strtod(rows->c_str(), nullptr);
    if (n < 0) return absl::NotFoundError("never analyzed: " + table);  // PostgreSQL 14+: -1
    return n;
  }

  void Cancel() override {
    std::lock_guard<std::mutex> lock(cancel_mu_);
    char error[256];
    if (cancel_ != nullptr) PQcancel(cancel_, error, sizeof(error));
  }

 private:
  static bool Explainable(const std::string& statement) {
    size_t i = 0;
    for (;;) {  // white space and comments
      while (i < statement.size() && std::isspace(static_cast<unsigned char>(statement[i]))) ++i;
      if (statement.compare(i, 2, "--") == 0) {
        i = statement.find('\n', i);
        if (i == std::string::npos) return false;
      } else if (statement.compare(i, 2, "/*") == 0) {
        i = statement.find("*/", i + 2);
        if (i == std::string::npos) return false;
        i += 2;
      } else {
        break;
      }
    }
    std::string word;
    while (i < statement.size() && std::isalpha(static_cast<unsigned char>(statement[i]))) {
      word += static_cast<char>(std::tolower(static_cast<unsigned char>(statement[i++])));
    }
    for (const char* w :
         {"select", "insert", "update", "delete", "merge", "with", "values", "table"}) {
      if (word == w) return true;
    }
    return false;
  }

  PGconn* Connection() {
    if (conn_ != nullptr && PQstatus(conn_) == CONNECTION_OK) return conn_;
    Close();
    std::vector<const char*> keywords, values;
    for (size_t i = 0; i < keywords_.size(); ++i) {
      keywords.push_back(keywords_[i].c_str());
      values.push_back(values_[i].c_str());
    }
    keywords.push_back(nullptr);
    values.push_back(nullptr);
    PGconn* c = PQconnectdbParams(keywords.data(), values.data(), 0);
    if (c == nullptr || PQstatus(c) != CONNECTION_OK) {
      error_ = c != nullptr ? PQerrorMessage(c) : "out of memory";
      if (c != nullptr) PQfinish(c);
      return nullptr;
    }
    PQsetNoticeProcessor(
        c, [](void*, const char*) {}, nullptr);  // the agent prints nothing
    std::lock_guard<std::mutex> lock(cancel_mu_);
    conn_ = c;
    cancel_ = PQgetCancel(c);
    return conn_;
  }

  void Close() {
    std::lock_guard<std::mutex> lock(cancel_mu_);
    if (cancel_ != nullptr) PQfreeCancel(cancel_);
    if (conn_ != nullptr) PQfinish(conn_);
    cancel_ = nullptr;
    conn_ = nullptr;
  }

  // The first column of the first row ("" when no row), or the error as a status.
  // A connection the server dropped since the last call (a restart) is opened again and the
  // query sent once more.
  absl::StatusOr<std::string> Query(const std::string& sql, int n, const Oid* types,
                                    const char* const* values, const int* lengths,
                                    const int* formats) {
    PGconn* c = Connection();
    if (c == nullptr) return absl::UnavailableError("EXPLAIN connection: " + error_);
    PGresult* r = PQexecParams(c, sql.c_str(), n, types, values, lengths, formats, 0);
    if (PQstatus(c) != CONNECTION_OK) {
      PQclear(r);
      c = Connection();
      if (c == nullptr) return absl::UnavailableError("EXPLAIN connection: " + error_);
      r = PQexecParams(c, sql.c_str(), n, types, values, lengths, formats, 0);
    }
    if (r == nullptr) return absl::UnavailableError(PQerrorMessage(c));
    std::string out;
    absl::Status status;
    if (PQresultStatus(r) == PGRES_TUPLES_OK) {
      if (PQntuples(r) > 0 && PQnfields(r) > 0) out = PQgetvalue(r, 0, 0);
    } else {
      const char* state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
      const std::string code = state != nullptr ? state : "";
      std::string message = PQresultErrorMessage(r);
      while (!message.empty() && message.back() == '\n') message.pop_back();
      message = "SQLSTATE " + code + ": " + message;
      // 57014 query_canceled (statement_timeout, Cancel), 55P03 lock_not_available.
      status = code == "57014" || code == "55P03" ? absl::DeadlineExceededError(message)
               : PQstatus(c) != CONNECTION_OK     ? absl::UnavailableError(message)
                                                  : absl::InvalidArgumentError(message);
    }
    PQclear(r);
    if (!status.ok()) return status;
    return out;
  }

  std::vector<std::string> keywords_, values_;
  std::string error_;
  PGconn* conn_ = nullptr;
  std::mutex cancel_mu_;  // guards cancel_ (and conn_ while it changes) against Cancel
  PGcancel* cancel_ = nullptr;
};

class PgSession {
 public:
  // The most prepared-statement names remembered; past it, ExecPrepared of a new name is
  // recorded under the statement text "EXECUTE <name>".
  static constexpr size_t kMaxPrepared = 1024;

  PgSession(Agent& agent, PGconn* conn) : agent_(agent), conn_(conn) { Refresh(); }
  PgSession(const PgSession&) = delete;
  PgSession& operator=(const PgSession&) = delete;
  ~PgSession() { pending_.reset(); }

  PGconn* conn() const { return conn_; }

  // Reads the target labels from the connection again (after PQreset, or a reconnect), and
  // installs the target's plan source when statements are explained and it has none.
  void Refresh() {
    const char* db = conn_ != nullptr ? PQdb(conn_) : nullptr;
    const char* host = conn_ != nullptr ? PQhost(conn_) : nullptr;
    const char* port = conn_ != nullptr ? PQport(conn_) : nullptr;
    db_ = db != nullptr ? db : "";
    host_ = host != nullptr ? host : "";
    port_ = port != nullptr ? std::atoi(port) : 0;
    explain_ = agent_.options().explain_threshold > absl::ZeroDuration();
    if (explain_ && conn_ != nullptr && !agent_.HasPlanSource(target())) {
      // AlreadyExists when another session won the race: that one serves.
      agent_
          .SetPlanSource(target(), std::unique_ptr<PlanSource>(
                                       new PgPlanSource(conn_, agent_.options().explain_timeout)))
          .IgnoreError();
    }
  }

  PGresult* Exec(const char* sql) {
    DbOperation op(agent_, target(), Text(sql));
    op.set_plan_input(Text(sql));
    return Check(op, PQexec(conn_, sql));
  }

  PGresult* ExecParams(const char* sql, int n_params, const Oid* param_types,
                       const char* const* param_values, const int* param_lengths,
                       const int* param_formats, int result_format) {
    DbOperation op(agent_, target(), Text(sql));
    op.set_plan_input(Text(sql), StatementParams{n_params, param_values, param_lengths,
                                                 param_formats, param_types});
    return Check(op, PQexecParams(conn_, sql, n_params, param_types, param_values, param_lengths,
                                  param_formats, result_format));
  }

  PGresult* Prepare(const char* name, const char* sql, int n_params, const Oid* param_types) {
    PGresult* r = PQprepare(conn_, name, sql, n_params, param_types);
    if (r != nullptr && PQresultStatus(r) == PGRES_COMMAND_OK) {
      Remember(name, sql, n_params, param_types);
    }
    return r;
  }

  PGresult* ExecPrepared(const char* name, int n_params, const char* const* param_values,
                         const int* param_lengths, const int* param_formats, int result_format) {
    const Prepared* prepared = Find(name);
    DbOperation op(agent_, target(), PreparedText(name));
    if (prepared != nullptr) {
      op.set_plan_input(prepared->sql, StatementParams{n_params, param_values, param_lengths,
                                                       param_formats, Types(*prepared, n_params)});
    }
    return Check(op, PQexecPrepared(conn_, name, n_params, param_values, param_lengths,
                                    param_formats, result_format));
  }

  int SendQuery(const char* sql) {
    Start(Text(sql));
    KeepPlanInput(Text(sql), 0, nullptr, nullptr, nullptr, nullptr);
    return Sent(PQsendQuery(conn_, sql));
  }

  int SendQueryParams(const char* sql, int n_params, const Oid* param_types,
                      const char* const* param_values, const int* param_lengths,
                      const int* param_formats, int result_format) {
    Start(Text(sql));
    KeepPlanInput(Text(sql), n_params, param_values, param_lengths, param_formats, param_types);
    return Sent(PQsendQueryParams(conn_, sql, n_params, param_types, param_values, param_lengths,
                                  param_formats, result_format));
  }

  int SendQueryPrepared(const char* name, int n_params, const char* const* param_values,
                        const int* param_lengths, const int* param_formats, int result_format) {
    Start(PreparedText(name));
    if (const Prepared* prepared = Find(name)) {
      KeepPlanInput(prepared->sql, n_params, param_values, param_lengths, param_formats,
                    Types(*prepared, n_params));
    }
    return Sent(PQsendQueryPrepared(conn_, name, n_params, param_values, param_lengths,
                                    param_formats, result_format));
  }

  // PQgetResult; the asynchronous call in flight is recorded when it returns null.
  PGresult* GetResult() {
    PGresult* r = PQgetResult(conn_);
    if (pending_.has_value()) {
      if (r == nullptr) {
        pending_.reset();  // records it
      } else if (PQresultStatus(r) == PGRES_FATAL_ERROR) {
        MarkFailed(*pending_, r);
      }
    }
    return r;
  }

 private:
  DbTarget target() const { return DbTarget("postgresql", db_, host_, port_); }

  static const char* Text(const char* sql) { return sql != nullptr ? sql : ""; }

  struct Prepared {
    std::string sql;
    std::vector<Oid> types;  // as given to Prepare; shorter than the parameters when some
  };                         // were left to the server to infer

  const Prepared* Find(const char* name) const {
    auto it = prepared_.find(name != nullptr ? name : "");
    return it != prepared_.end() ? &it->second : nullptr;
  }

  std::string PreparedText(const char* name) const {
    if (const Prepared* p = Find(name)) return p->sql;
    return std::string("EXECUTE ") + (name != nullptr ? name : "");
  }

  // The prepared parameter types when there are as many as the call's parameters, else null
  // (the server infers them, as it did at Prepare).
  static const Oid* Types(const Prepared& p, int n_params) {
    return static_cast<int>(p.types.size()) == n_params ? p.types.data() : nullptr;
  }

  void Remember(const char* name, const char* sql, int n_params, const Oid* param_types) {
    const std::string key = name != nullptr ? name : "";
    if (prepared_.size() >= kMaxPrepared && prepared_.count(key) == 0) return;
    Prepared& p = prepared_[key];
    p.sql = Text(sql);
    p.types.clear();
    if (param_types != nullptr && n_params > 0) p.types.assign(param_types, param_types + n_params);
  }

  // An asynchronous call's plan input, copied: the explain may come after the caller's
  // buffers are gone. Only while statements are explained.
  void KeepPlanInput(const std::string& sql, int n, const char* const* values, const int* lengths,
                     const int* formats, const Oid* types) {
    if (!explain_ || !pending_.has_value()) return;
    async_sql_ = sql;
    async_values_.assign(n > 0 ? n : 0, std::string());
    async_null_.assign(n > 0 ? n : 0, false);
    async_formats_.assign(n > 0 ? n : 0, 0);
    async_lengths_.assign(n > 0 ? n : 0, 0);
    async_types_.assign(n > 0 ? n : 0, 0);
    async_pointers_.assign(n > 0 ? n : 0, nullptr);
    for (int i = 0; i < n; ++i) {
      const bool binary = formats != nullptr && formats[i] == 1;
      const char* v = values != nullptr ? values[i] : nullptr;
      async_null_[i] = v == nullptr;
      if (v != nullptr) {
        async_values_[i].assign(
            v, binary ? static_cast<size_t>(std::max(lengths != nullptr ? lengths[i] : 0, 0))
                      : std::strlen(v));
      }
      async_formats_[i] = binary ? 1 : 0;
      async_lengths_[i] = static_cast<int>(async_values_[i].size());
      async_types_[i] = types != nullptr ? types[i] : 0;
    }
    for (int i = 0; i < n; ++i) {
      async_pointers_[i] = async_null_[i] ? nullptr : async_values_[i].c_str();
    }
    pending_->set_plan_input(
        async_sql_, StatementParams{n > 0 ? n : 0, async_pointers_.data(), async_lengths_.data(),
                                    async_formats_.data(), async_types_.data()});
  }

  // A result without a SQLSTATE on a connection that is no longer usable (the server went
  // away mid-call: libpq makes such a result itself) is 08006 too.
  void MarkFailed(DbOperation& op, PGresult* r) const {
    const char* state = r != nullptr ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : nullptr;
    if (state != nullptr) {
      op.set_error(state);
    } else if (r == nullptr || (conn_ != nullptr && PQstatus(conn_) != CONNECTION_OK)) {
      op.set_error("08006");
    } else {
      op.set_error("");
    }
  }

  PGresult* Check(DbOperation& op, PGresult* r) const {
    if (r == nullptr || PQresultStatus(r) == PGRES_FATAL_ERROR) MarkFailed(op, r);
    return r;
  }

  void Start(const std::string& statement) {
    pending_.reset();  // an earlier call not read to its end: recorded now
    pending_.emplace(agent_, target(), statement);
  }

  int Sent(int ok) {
    if (ok == 0 && pending_.has_value()) {
      pending_->set_error("08006");  // not sent: the connection is not usable
      pending_.reset();
    }
    return ok;
  }

  Agent& agent_;
  PGconn* conn_;
  std::string db_, host_;
  int port_ = 0;
  bool explain_ = false;  // Options::explain_threshold is set
  std::map<std::string, Prepared> prepared_;
  std::optional<DbOperation> pending_;
  // The asynchronous call's plan input (KeepPlanInput); pending_ points into these.
  std::string async_sql_;
  std::vector<std::string> async_values_;
  std::vector<bool> async_null_;
  std::vector<int> async_formats_, async_lengths_;
  std::vector<Oid> async_types_;
  std::vector<const char*> async_pointers_;
};

// A small libpq connection pool that reports itself through DbPool (vitals/db.h): connections
// used and idle, the most allowed, callers waiting, how long each waited for a connection and
// held it, how long opening one took, and the callers that gave up.
//
//   vitals::PgPool::Options o;
//   o.name = "shop";
//   o.max_connections = 8;
//   vitals::PgPool pool(agent, "host=db dbname=shop", o);
//   absl::StatusOr<vitals::PgPool::Lease> db = pool.Acquire();
//   if (!db.ok()) return db.status();  // DeadlineExceeded after wait_timeout; Unavailable
//   PGresult* r = (*db)->ExecParams(...);  // a PgSession on the leased connection
//
// Connections are opened on demand up to max_connections and kept. A connection given back
// broken (PQstatus not OK) or inside a transaction (its session was not finished) is closed
// instead of reused, so the next caller gets a fresh one; a connection the server dropped while
// it sat idle is found broken by its first call (which fails with 08006), and is closed when
// given back. Thread-safety: Acquire from any
// thread; a Lease is used by one thread at a time and gives its connection back when
// destroyed. The pool must outlive its leases. Cost: a mutex per Acquire and per return (the
// hot path is the statement, not the lease), and connecting when no connection is idle.
class PgPool {
 public:
  struct Options {
    std::string name = "postgresql";  // db_client_connection_pool_name
    int max_connections = 10;
    absl::Duration wait_timeout = absl::Seconds(5);  // longest a caller waits for a connection
  };

  PgPool(Agent& agent, std::string conninfo, Options options)
      : agent_(agent),
        conninfo_(std::move(conninfo)),
        options_(std::move(options)),
        metrics_(agent.Pool(options_.name)) {
    if (options_.max_connections < 1) options_.max_connections = 1;
    metrics_.SetMax(options_.max_connections);
  }
  ~PgPool() {
    std::lock_guard<std::mutex> lock(mu_);
    for (Conn* c : idle_) Close(c);
    metrics_.AddIdle(-static_cast<double>(idle_.size()));
    idle_.clear();
  }
  PgPool(const PgPool&) = delete;
  PgPool& operator=(const PgPool&) = delete;

  struct Conn {
    PGconn* conn = nullptr;
    std::unique_ptr<PgSession> session;
  };

  // A connection taken from the pool until destroyed (or moved from).
  class Lease {
   public:
    Lease(Lease&& other) noexcept : pool_(other.pool_), conn_(other.conn_), taken_(other.taken_) {
      other.pool_ = nullptr;
      other.conn_ = nullptr;
    }
    Lease& operator=(Lease&& other) noexcept {
      if (this != &other) {
        Return();
        pool_ = other.pool_;
        conn_ = other.conn_;
        taken_ = other.taken_;
        other.pool_ = nullptr;
        other.conn_ = nullptr;
      }
      return *this;
    }
    ~Lease() { Return(); }

    PgSession& operator*() const { return *conn_->session; }
    PgSession* operator->() const { return conn_->session.get(); }
    PGconn* conn() const { return conn_->conn; }

   private:
    friend class PgPool;
    Lease(PgPool* pool, Conn* conn) : pool_(pool), conn_(conn), taken_(Now()) {}
    void Return() {
      if (pool_ != nullptr && conn_ != nullptr) pool_->Return(conn_, Now() - taken_);
      pool_ = nullptr;
      conn_ = nullptr;
    }
    PgPool* pool_;
    Conn* conn_;
    std::chrono::steady_clock::time_point taken_;
  };

  // An idle connection, a new one while fewer than max_connections are open, or the first one
  // given back within wait_timeout. DeadlineExceeded when none came in time (counted in
  // db_client_connection_timeouts_total); Unavailable when opening a connection failed.
  absl::StatusOr<Lease> Acquire() { return Acquire(options_.wait_timeout); }
  // The same with another bound on the wait.
  absl::StatusOr<Lease> Acquire(absl::Duration wait_timeout) {
    const auto start = Now();
    std::unique_lock<std::mutex> lock(mu_);
    metrics_.AddPending(1);
    const bool got =
        returned_.wait_until(lock, start + absl::ToChronoNanoseconds(wait_timeout),
                             [&] { return !idle_.empty() || open_ < options_.max_connections; });
    metrics_.AddPending(-1);
    metrics_.RecordWait(absl::FromChrono(Now() - start));
    if (!got) {
      metrics_.Timeout();
      return absl::DeadlineExceededError("PgPool " + options_.name + ": no connection within " +
                                         absl::FormatDuration(wait_timeout));
    }
    if (!idle_.empty()) {
      Conn* c = idle_.back();
      idle_.pop_back();
      metrics_.AddIdle(-1);
      metrics_.AddUsed(1);
      return Lease(this, c);
    }
    ++open_;
    metrics_.AddUsed(1);
    lock.unlock();
    const auto opening = Now();
    PGconn* conn = PQconnectdb(conninfo_.c_str());
    if (conn == nullptr || PQstatus(conn) != CONNECTION_OK) {
      std::string error = conn != nullptr ? PQerrorMessage(conn) : "out of memory";
      while (!error.empty() && error.back() == '\n') error.pop_back();
      if (conn != nullptr) PQfinish(conn);
      lock.lock();
      --open_;
      metrics_.AddUsed(-1);
      returned_.notify_one();
      return absl::UnavailableError("PgPool " + options_.name + ": " + error);
    }
    metrics_.RecordCreate(absl::FromChrono(Now() - opening));
    Conn* c = new Conn{conn, nullptr};
    c->session = std::make_unique<PgSession>(agent_, conn);
    return Lease(this, c);
  }

 private:
  static std::chrono::steady_clock::time_point Now() { return std::chrono::steady_clock::now(); }

  static void Close(Conn* c) {
    c->session.reset();
    PQfinish(c->conn);
    delete c;
  }

  void Return(Conn* c, std::chrono::steady_clock::duration held) {
    metrics_.RecordUse(absl::FromChrono(held));
    const bool reusable =
        PQstatus(c->conn) == CONNECTION_OK && PQtransactionStatus(c->conn) == PQTRANS_IDLE;
    if (!reusable) Close(c);
    std::lock_guard<std::mutex> lock(mu_);
    metrics_.AddUsed(-1);
    if (reusable) {
      idle_.push_back(c);
      metrics_.AddIdle(1);
    } else {
      --open_;
    }
    returned_.notify_one();
  }

  Agent& agent_;
  const std::string conninfo_;
  Options options_;
  DbPool metrics_;
  std::mutex mu_;
  std::condition_variable returned_;
  std::vector<Conn*> idle_;  // guarded by mu_
  int open_ = 0;             // connections open, idle or leased; guarded by mu_
};

}  // namespace vitals

#endif  // VITALS_POSTGRES_H_
