// vitals/sqlite.h: SQLite's plan source for slow statements (vitals/explain.h): `EXPLAIN QUERY
// PLAN` on a connection of its own, read for full table scans of filtered statements.
//
//   agent.SetPlanSource(vitals::DbTarget("sqlite", "main"),
//                       std::make_unique<vitals::SqlitePlanSource>("file:app.db?mode=ro",
//                                                                  agent.options().explain_timeout));
//   ...
//   vitals::DbOperation op(agent, vitals::DbTarget("sqlite", "main"), sql);
//   op.set_plan_input(sql, {n, values});  // text values; null = NULL
//
// Header-only: the vitals library does not link SQLite; a service that includes this header
// links it itself (Debian: libsqlite3-dev). The connection is opened read-only on first use
// (SQLITE_OPEN_URI, so a shared-cache in-memory database `file:name?mode=memory&cache=shared`
// is reachable while another connection keeps it open), with a busy timeout and a progress
// handler that stop a call after `timeout`. Only one statement is prepared: a text with a
// second one is refused. SQLite's plans carry no row estimates; TableRows reads the table's
// largest rowid (a b-tree descent, not a count), NotFound for tables without one.
//
// Thread-safety: as vitals/explain.h says (the agent's explain thread; Cancel from any).
// Ownership: owns its connection, closed with it. Cost: off the request path entirely.

#ifndef VITALS_SQLITE_H_
#define VITALS_SQLITE_H_

#include <sqlite3.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "vitals/explain.h"

namespace vitals {

class SqlitePlanSource : public PlanSource {
 public:
  // `uri`: what sqlite3_open_v2 opens (a file name or a `file:` URI).
  SqlitePlanSource(std::string uri, absl::Duration timeout)
      : uri_(std::move(uri)), timeout_(timeout) {}
  ~SqlitePlanSource() override {
    if (db_ != nullptr) sqlite3_close(db_);
  }

  PlanFormat format() const override { return PlanFormat::kSqliteQueryPlan; }

  absl::StatusOr<std::string> Explain(const std::string& statement,
                                      const std::vector<PlanParam>& params) override {
    std::string plan;
    absl::Status s = Run("EXPLAIN QUERY PLAN " + statement, params, [&](sqlite3_stmt* st) {
      const unsigned char* detail = sqlite3_column_text(st, 3);
      if (detail != nullptr) {
        plan += reinterpret_cast<const char*>(detail);
        plan += '\n';
      }
    });
    if (!s.ok()) return s;
    return plan;
  }

  absl::StatusOr<double> TableRows(const std::string& table) override {
    std::string quoted = "\"";
    for (char c : table) quoted += c == '"' ? std::string("\"\"") : std::string(1, c);
    quoted += '"';
    double rows = -1;
    absl::Status s = Run("SELECT max(rowid) FROM " + quoted, {}, [&](sqlite3_stmt* st) {
      if (sqlite3_column_type(st, 0) != SQLITE_NULL)
        rows = sqlite3_column_double(st, 0);
      else
        rows = 0;
    });
    if (!s.ok() || rows < 0) return absl::NotFoundError("no rowid estimate for " + table);
    return rows;
  }

  void Cancel() override {
    // sqlite3_interrupt may be called from another thread while the connection is open; it is
    // opened and closed only on the explain thread, which Cancel's caller then joins.
    if (sqlite3* db = open_db_) sqlite3_interrupt(db);
  }

 private:
  template <typename Row>
  absl::Status Run(const std::string& sql, const std::vector<PlanParam>& params, Row row) {
    if (db_ == nullptr) {
      sqlite3* db = nullptr;
      if (sqlite3_open_v2(uri_.c_str(), &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI, nullptr) !=
          SQLITE_OK) {
        const std::string error = db != nullptr ? sqlite3_errmsg(db) : "out of memory";
        sqlite3_close(db);
        return absl::UnavailableError("sqlite: " + error);
      }
      sqlite3_busy_timeout(db, static_cast<int>(absl::ToInt64Milliseconds(timeout_)));
      sqlite3_progress_handler(db, 1000, &SqlitePlanSource::Progress, this);
      db_ = db;
      open_db_ = db;
    }
    deadline_ = std::chrono::steady_clock::now() + absl::ToChronoNanoseconds(timeout_);
    sqlite3_stmt* st = nullptr;
    const char* tail = nullptr;
    int rc = sqlite3_prepare_v2(db_, sql.c_str(), static_cast<int>(sql.size()), &st, &tail);
    if (rc != SQLITE_OK) return Error(rc);
    while (tail != nullptr && *tail != '\0' &&
           (*tail == ' ' || *tail == '\n' || *tail == '\t' || *tail == '\r' || *tail == ';')) {
      ++tail;
    }
    if (tail != nullptr && *tail != '\0') {
      sqlite3_finalize(st);
      return absl::InvalidArgumentError("not explained: the text holds more than one statement");
    }
    const int n = std::min(static_cast<int>(params.size()), sqlite3_bind_parameter_count(st));
    for (int i = 0; i < n; ++i) {
      const PlanParam& p = params[i];
      if (p.null) {
        sqlite3_bind_null(st, i + 1);
      } else if (p.binary) {
        sqlite3_bind_blob(st, i + 1, p.value.data(), static_cast<int>(p.value.size()),
                          SQLITE_TRANSIENT);
      } else {
        sqlite3_bind_text(st, i + 1, p.value.data(), static_cast<int>(p.value.size()),
                          SQLITE_TRANSIENT);
      }
    }
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) row(st);
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? absl::OkStatus() : Error(rc);
  }

  absl::Status Error(int rc) {
    const std::string message = std::string("sqlite: ") + sqlite3_errmsg(db_);
    if (rc == SQLITE_INTERRUPT || rc == SQLITE_BUSY || rc == SQLITE_LOCKED) {
      return absl::DeadlineExceededError(message);
    }
    return absl::InvalidArgumentError(message);
  }

  static int Progress(void* self) {
    return std::chrono::steady_clock::now() > static_cast<SqlitePlanSource*>(self)->deadline_;
  }

  std::string uri_;
  absl::Duration timeout_;
  sqlite3* db_ = nullptr;
  std::atomic<sqlite3*> open_db_{nullptr};
  std::chrono::steady_clock::time_point deadline_;
};

}  // namespace vitals

#endif  // VITALS_SQLITE_H_
