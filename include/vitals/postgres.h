// vitals/postgres.h: PostgreSQL calls through libpq, timed and counted like every database call
// (vitals/db.h: duration histogram, statement table, N+1 and the request's time breakdown),
// labelled with OpenTelemetry's attributes for PostgreSQL: `db_system_name="postgresql"`,
// `db_namespace` (the database), `server_address` and `server_port` (the connection's host and
// port), and `error_type` the SQLSTATE of a failed call.
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
// Ownership: borrows the connection, which must stay open while the session is used (the
// target labels are read from it at construction; call Refresh after PQreset to another
// server). Thread-safety: one thread at a time, as the PGconn itself. Cost: libpq's call plus
// a DbOperation (vitals/db.h, about 45 ns; BENCHMARKS.md compares both with the bare call).

#ifndef VITALS_POSTGRES_H_
#define VITALS_POSTGRES_H_

#include <libpq-fe.h>

#include <cstdlib>
#include <map>
#include <optional>
#include <string>

#include "vitals/agent.h"
#include "vitals/db.h"

namespace vitals {

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

  // Reads the target labels from the connection again (after PQreset, or a reconnect).
  void Refresh() {
    const char* db = conn_ != nullptr ? PQdb(conn_) : nullptr;
    const char* host = conn_ != nullptr ? PQhost(conn_) : nullptr;
    const char* port = conn_ != nullptr ? PQport(conn_) : nullptr;
    db_ = db != nullptr ? db : "";
    host_ = host != nullptr ? host : "";
    port_ = port != nullptr ? std::atoi(port) : 0;
  }

  PGresult* Exec(const char* sql) {
    DbOperation op(agent_, target(), Text(sql));
    return Check(op, PQexec(conn_, sql));
  }

  PGresult* ExecParams(const char* sql, int n_params, const Oid* param_types,
                       const char* const* param_values, const int* param_lengths,
                       const int* param_formats, int result_format) {
    DbOperation op(agent_, target(), Text(sql));
    return Check(op, PQexecParams(conn_, sql, n_params, param_types, param_values, param_lengths,
                                  param_formats, result_format));
  }

  PGresult* Prepare(const char* name, const char* sql, int n_params, const Oid* param_types) {
    PGresult* r = PQprepare(conn_, name, sql, n_params, param_types);
    if (r != nullptr && PQresultStatus(r) == PGRES_COMMAND_OK) Remember(name, sql);
    return r;
  }

  PGresult* ExecPrepared(const char* name, int n_params, const char* const* param_values,
                         const int* param_lengths, const int* param_formats, int result_format) {
    DbOperation op(agent_, target(), PreparedText(name));
    return Check(op, PQexecPrepared(conn_, name, n_params, param_values, param_lengths,
                                    param_formats, result_format));
  }

  int SendQuery(const char* sql) {
    Start(Text(sql));
    return Sent(PQsendQuery(conn_, sql));
  }

  int SendQueryParams(const char* sql, int n_params, const Oid* param_types,
                      const char* const* param_values, const int* param_lengths,
                      const int* param_formats, int result_format) {
    Start(Text(sql));
    return Sent(PQsendQueryParams(conn_, sql, n_params, param_types, param_values, param_lengths,
                                  param_formats, result_format));
  }

  int SendQueryPrepared(const char* name, int n_params, const char* const* param_values,
                        const int* param_lengths, const int* param_formats, int result_format) {
    Start(PreparedText(name));
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

  std::string PreparedText(const char* name) const {
    auto it = prepared_.find(name != nullptr ? name : "");
    if (it != prepared_.end()) return it->second;
    return std::string("EXECUTE ") + (name != nullptr ? name : "");
  }

  void Remember(const char* name, const char* sql) {
    const std::string key = name != nullptr ? name : "";
    if (prepared_.size() >= kMaxPrepared && prepared_.count(key) == 0) return;
    prepared_[key] = Text(sql);
  }

  static void MarkFailed(DbOperation& op, PGresult* r) {
    const char* state = r != nullptr ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : nullptr;
    op.set_error(r == nullptr ? "08006" : (state != nullptr ? state : ""));
  }

  static PGresult* Check(DbOperation& op, PGresult* r) {
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
  std::map<std::string, std::string> prepared_;
  std::optional<DbOperation> pending_;
};

}  // namespace vitals

#endif  // VITALS_POSTGRES_H_
