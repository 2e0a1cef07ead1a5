#include "tests/support/postgres.h"

#include <pwd.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <vector>

namespace vitals_test {
namespace {

// Single quotes for a POSIX shell.
std::string Quoted(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out += c;
    }
  }
  return out + "'";
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

}  // namespace

std::string PostgresServer::BinDir() {
  std::vector<std::string> found;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator("/usr/lib/postgresql", ec)) {
    if (std::filesystem::exists(e.path() / "bin" / "initdb")) found.push_back(e.path() / "bin");
  }
  if (found.empty()) return "";
  // The newest version: directories are named by major version.
  std::sort(found.begin(), found.end(), [](const std::string& a, const std::string& b) {
    return a.size() != b.size() ? a.size() < b.size() : a < b;
  });
  return found.back();
}

int PostgresServer::AsServerUser(const std::string& command, std::string* out) const {
  const std::string full =
      geteuid() == 0 ? "runuser -u postgres -- sh -c " + Quoted(command) : command;
  return RunCommand(full, out);
}

PostgresServer::PostgresServer() : bin_(BinDir()) {
  if (bin_.empty()) {
    throw std::runtime_error(
        "PostgreSQL is not installed (Debian: postgresql; scripts/bootstrap installs it)");
  }
  if (geteuid() == 0) {
    const passwd* pw = getpwnam("postgres");
    if (pw == nullptr || chown(dir_.path().c_str(), pw->pw_uid, pw->pw_gid) != 0) {
      throw std::runtime_error("cannot give the temporary directory to the postgres user");
    }
  }
  port_ = FreePort();
  const std::string data = dir_.path() + "/data";
  std::string out;
  if (AsServerUser(bin_ + "/initdb -D " + Quoted(data) +
                       " -A trust -U postgres -E UTF8 --no-sync --locale=C",
                   &out) != 0) {
    throw std::runtime_error("initdb failed: " + out);
  }
  Start();
  Psql("CREATE EXTENSION pg_stat_statements");
}

void PostgresServer::Start() {
  if (started_) return;
  const std::string data = dir_.path() + "/data";
  std::string out;
  const std::string options = "-p " + std::to_string(port_) + " -k " + dir_.path() +
                              " -c listen_addresses=127.0.0.1 -c fsync=off" +
                              " -c shared_preload_libraries=pg_stat_statements" +
                              " -c pg_stat_statements.track=all" +
                              " -c pg_stat_statements.track_planning=on";
  if (AsServerUser(bin_ + "/pg_ctl -D " + Quoted(data) + " -o " + Quoted(options) + " -l " +
                       Quoted(dir_.path() + "/server.log") + " -w -t 60 start",
                   &out) != 0) {
    throw std::runtime_error("pg_ctl start failed: " + out + "\n" +
                             ReadAll(dir_.path() + "/server.log"));
  }
  started_ = true;
}

void PostgresServer::Stop() {
  if (!started_) return;
  std::string out;
  AsServerUser(bin_ + "/pg_ctl -D " + Quoted(dir_.path() + "/data") + " -m immediate -w stop",
               &out);
  started_ = false;
}

PostgresServer::~PostgresServer() { Stop(); }

std::string PostgresServer::conninfo() const {
  return "host=127.0.0.1 port=" + std::to_string(port_) + " user=postgres dbname=postgres";
}

std::string PostgresServer::Psql(const std::string& sql) const {
  const std::string file = dir_.path() + "/query.sql";
  {
    std::ofstream f(file, std::ios::trunc);
    f << sql << "\n";
  }
  std::string out;
  const int rc =
      RunCommand("psql -X -q -At -v ON_ERROR_STOP=1 -h 127.0.0.1 -p " + std::to_string(port_) +
                     " -U postgres -d postgres -f " + Quoted(file),
                 &out);
  if (rc != 0) throw std::runtime_error("psql failed: " + out);
  while (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

}  // namespace vitals_test
