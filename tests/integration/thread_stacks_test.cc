// /debug/pprof/goroutine and /debug/pprof/mutex against a real host whose threads are stuck on
// purpose (tests/integration/stuck_host.cc): two threads deadlocked on two mutexes, one blocked
// in read() on a pipe, and an absl::Mutex fought over. Go's pprof client reads both profiles.

#include <catch2/catch.hpp>
#include <chrono>
#include <fstream>
#include <map>
#include <regex>
#include <string>
#include <thread>

#include "httplib.h"
#include "tests/support/fixtures.h"
#include "tests/support/process.h"

namespace {

using namespace std::chrono_literals;

class StuckHost {
 public:
  explicit StuckHost(std::map<std::string, std::string> env)
      : process_({vitals_test::BinaryDir() + "/tests/stuck_host"}, std::move(env), dir_.path()) {
    REQUIRE(process_.WaitForOutput("ready ", 30s));
    std::smatch m;
    const std::string out = process_.Stdout();
    REQUIRE(std::regex_search(out, m,
                              std::regex("ready port=(\\d+) ledger=(\\d+) audit=(\\d+) "
                                         "reader=(\\d+)")));
    port_ = std::stoi(m[1]);
    ledger_ = m[2];
    audit_ = m[3];
    reader_ = m[4];
  }
  ~StuckHost() { process_.Send("quit\n"); }

  // Sends `command`; returns the rest of the line its answer starts with `answer`.
  std::string Ask(const std::string& command, const std::string& answer) {
    const size_t seen = process_.Stdout().size();
    REQUIRE(process_.Send(command + "\n"));
    REQUIRE(vitals_test::WaitUntil(
        [&] { return process_.Stdout().find(answer, seen) != std::string::npos; }, 60s));
    const std::string out = process_.Stdout();
    const size_t at = out.find(answer, seen) + answer.size();
    REQUIRE(vitals_test::WaitUntil(
        [&] { return process_.Stdout().find('\n', at) != std::string::npos; }, 10s));
    const std::string full = process_.Stdout();
    return full.substr(at, full.find('\n', at) - at);
  }

  httplib::Result Get(const std::string& path) {
    httplib::Client client("127.0.0.1", port_);
    client.set_read_timeout(60);
    return client.Get(path.c_str());
  }

  // The debug=2 block of one thread: from its "thread TID " header to the blank line.
  static std::string Block(const std::string& dump, const std::string& tid) {
    const size_t at = dump.find("thread " + tid + " ");
    if (at == std::string::npos) return "";
    return dump.substr(at, dump.find("\n\n", at) - at);
  }

  const vitals_test::TempDir& dir() const { return dir_; }
  int port() const { return port_; }
  std::string ledger_, audit_, reader_;

 private:
  vitals_test::TempDir dir_;
  vitals_test::Subprocess process_;
  int port_ = 0;
};

std::string GoPprof(const vitals_test::TempDir& dir, const std::string& args) {
  std::string out;
  const int rc = vitals_test::RunCommand(
      "HOME=" + dir.path() + " PPROF_TMPDIR=" + dir.path() + " go tool pprof " + args, &out);
  INFO("go tool pprof " << args << "\n" << out);
  CHECK(rc == 0);
  return out;
}

}  // namespace

TEST_CASE("thread stacks name both deadlocked locking functions and the blocked read",
          "[integration][stacks]") {
  StuckHost host({});
  auto res = host.Get("/debug/pprof/goroutine?debug=2");
  REQUIRE(res);
  REQUIRE(res->status == 200);
  const std::string& dump = res->body;
  INFO(dump.substr(0, 20000));
  const std::string ledger = StuckHost::Block(dump, host.ledger_);
  const std::string audit = StuckHost::Block(dump, host.audit_);
  const std::string reader = StuckHost::Block(dump, host.reader_);
  CHECK(ledger.find("[futex, sleeping") != std::string::npos);
  CHECK(ledger.find("LockLedgerThenAudit()") != std::string::npos);
  CHECK(ledger.find("stuck_host.cc:") != std::string::npos);  // file and line
  CHECK(audit.find("[futex, sleeping") != std::string::npos);
  CHECK(audit.find("LockAuditThenLedger()") != std::string::npos);
  CHECK(reader.find("[read, sleeping") != std::string::npos);
  CHECK(reader.find("WaitForPipeMessage()") != std::string::npos);
  // The walk goes on past functions built with frame pointers (the leaf read() wrapper saves
  // none): std::thread's start routine in libstdc++ and libc's thread start follow.
  const std::string below =
      reader.substr(std::min(reader.find("WaitForPipeMessage()"), reader.size()));
  CHECK(below.find("libstdc++.so") != std::string::npos);
  CHECK(below.find("libc.so.6") != std::string::npos);
  // Every thread is listed with its name and CPU time; the last line counts them.
  CHECK(std::regex_search(dump, std::regex("threads: \\d+, stacks taken: \\d+\n$")));
  CHECK(dump.find("\"vitals-scrape\" [") != std::string::npos);

  // debug=1: the two deadlocked stacks differ, each appears once with its thread.
  res = host.Get("/debug/pprof/goroutine?debug=1");
  REQUIRE(res);
  CHECK(res->body.find("thread profile: total ") == 0);
  CHECK(res->body.find("LockLedgerThenAudit") != std::string::npos);
  CHECK(res->body.find("# threads: " + host.reader_ + " ") != std::string::npos);
}

TEST_CASE("taking thread stacks leaves the host's threads, signals and blocked read untouched",
          "[integration][stacks]") {
  StuckHost host({});
  const std::string threads_before = host.Ask("threads", "threads ");
  const std::string signals_before = host.Ask("signals", "signals ");
  for (int i = 0; i < 5; ++i) {
    auto res = host.Get(i % 2 ? "/debug/pprof/goroutine?debug=2" : "/debug/pprof/goroutine");
    REQUIRE(res);
    REQUIRE(res->status == 200);
  }
  CHECK(host.Ask("threads", "threads ") == threads_before);
  CHECK(host.Ask("signals", "signals ") == signals_before);
  // The read() that was blocked through every dump returns the whole message: no EINTR, no
  // partial read.
  CHECK(host.Ask("write", "read ") == "13 errno 0");
}

TEST_CASE("go tool pprof reads the thread profile under Go's goroutine name",
          "[integration][stacks][pprof]") {
  StuckHost host({});
  const std::string url =
      "http://127.0.0.1:" + std::to_string(host.port()) + "/debug/pprof/goroutine";
  const std::string top = GoPprof(host.dir(), "-top " + url);
  CHECK(top.find("Type: goroutine") != std::string::npos);
  const std::string traces = GoPprof(host.dir(), "-traces " + url);
  CHECK(traces.find("LockLedgerThenAudit") != std::string::npos);
  CHECK(traces.find("LockAuditThenLedger") != std::string::npos);
  CHECK(traces.find("WaitForPipeMessage") != std::string::npos);
  CHECK(std::regex_search(traces, std::regex("state: +read, sleeping")));
}

TEST_CASE("the mutex profile is off until asked for, and says how to turn it on",
          "[integration][stacks]") {
  StuckHost host({});
  auto res = host.Get("/debug/pprof/mutex");
  REQUIRE(res);
  CHECK(res->status == 501);
  CHECK(res->body.find("VITALS_MUTEX_PROFILE_FRACTION") != std::string::npos);
  CHECK(host.Ask("hooked", "hooked ") == "0");  // abseil has no hook of ours at all
  res = host.Get("/debug/pprof/goroutine?debug=3");
  REQUIRE(res);
  CHECK(res->status == 400);
}

TEST_CASE("go tool pprof names the function that held a contended absl::Mutex",
          "[integration][stacks][pprof]") {
  StuckHost host(std::map<std::string, std::string>{{"VITALS_MUTEX_PROFILE_FRACTION", "1"}});
  const std::string url = "http://127.0.0.1:" + std::to_string(host.port()) + "/debug/pprof/mutex";
  CHECK(host.Ask("hooked", "hooked ") == "1");
  CHECK(host.Ask("fight 50", "fought").empty());
  const std::string report = GoPprof(host.dir(), "-top " + url);
  CHECK(report.find("Type: delay") != std::string::npos);
  CHECK(report.find("FightOverLedger") != std::string::npos);
  const std::string contentions = GoPprof(host.dir(), "-top -sample_index=contentions " + url);
  CHECK(contentions.find("FightOverLedger") != std::string::npos);
  auto text = host.Get("/debug/pprof/mutex?debug=1");
  REQUIRE(text);
  CHECK(text->body.find("--- mutex:\ncycles/second=1000000000\nsampling period=1\n") == 0);
  CHECK(text->body.find("FightOverLedger") != std::string::npos);
}
