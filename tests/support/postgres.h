// tests/support/postgres.h: a throwaway PostgreSQL server for integration tests.
//
// Debian's PostgreSQL (`/usr/lib/postgresql/<version>/bin`): `initdb` in a temporary directory,
// `pg_ctl start` on a free loopback port with its Unix socket in that directory, fsync off and
// `pg_stat_statements` preloaded (the extension created; planning time tracked too). initdb refuses
// to run as root, so when the tests run as root the server runs as the `postgres` user the package
// creates (through `runuser`), which owns the directory. The destructor stops it at once
// (`pg_ctl stop -m immediate`) and removes everything.

#ifndef VITALS_TESTS_SUPPORT_POSTGRES_H_
#define VITALS_TESTS_SUPPORT_POSTGRES_H_

#include <string>

#include "tests/support/process.h"

namespace vitals_test {

class PostgresServer {
 public:
  // Starts the server; throws std::runtime_error with initdb's or the server's log when it
  // cannot.
  PostgresServer();
  ~PostgresServer();
  PostgresServer(const PostgresServer&) = delete;
  PostgresServer& operator=(const PostgresServer&) = delete;

  // Stops the server at once (`-m immediate`: connections break as in a crash) and starts it
  // again on the same port and data. Each does nothing when already so.
  void Stop();
  void Start();

  int port() const { return port_; }
  // A libpq connection string for the `postgres` database as the `postgres` user.
  std::string conninfo() const;
  // Runs `sql` with psql (unaligned, tuples only, stopping at the first error); returns its
  // output, or throws with it when psql fails.
  std::string Psql(const std::string& sql) const;

  // The directory of the newest installed server's programs, or "" when none is.
  static std::string BinDir();

 private:
  // Runs `command` as the server's user; returns its exit code, its output in `out`.
  int AsServerUser(const std::string& command, std::string* out) const;

  TempDir dir_;
  std::string bin_;
  int port_ = 0;
  bool started_ = false;
};

}  // namespace vitals_test

#endif  // VITALS_TESTS_SUPPORT_POSTGRES_H_
