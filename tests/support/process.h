// tests/support/process.h: real child processes and free loopback ports for integration tests.

#ifndef VITALS_TESTS_SUPPORT_PROCESS_H_
#define VITALS_TESTS_SUPPORT_PROCESS_H_

#include <sys/types.h>

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace vitals_test {

// A loopback TCP port that was free a moment ago.
int FreePort();

// A fresh temporary directory, removed with everything in it when the object goes.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// Runs argv with extra environment variables; stdout and stderr go to files in `log_dir`.
// The destructor sends SIGTERM, then SIGKILL after 5 s, and reaps the child.
class Subprocess {
 public:
  Subprocess(std::vector<std::string> argv, std::map<std::string, std::string> env,
             const std::string& log_dir);
  ~Subprocess();
  Subprocess(const Subprocess&) = delete;
  Subprocess& operator=(const Subprocess&) = delete;

  pid_t pid() const { return pid_; }
  bool running();
  // Waits up to `timeout` for the child to exit; returns its exit code, or -1 on timeout, or
  // 128+signal when it was killed by a signal.
  int Wait(std::chrono::milliseconds timeout);
  void Signal(int sig);
  // Writes `text` to the child's standard input (a pipe, closed when the object goes).
  bool Send(const std::string& text);
  std::string Stdout() const;
  std::string Stderr() const;
  // Waits until stdout contains `needle` (true) or the timeout passes / the child exits (false).
  bool WaitForOutput(const std::string& needle, std::chrono::milliseconds timeout);

 private:
  pid_t pid_ = -1;
  int stdin_fd_ = -1;
  int status_ = -1;
  bool reaped_ = false;
  std::string out_path_, err_path_;
};

// Starts the real Prometheus server (Debian's `prometheus`) on 127.0.0.1:`port` with the
// configuration `yml`, keeping its configuration, data and logs in `dir`; `flags` are added
// to its command line (e.g. --enable-feature=native-histograms).
std::unique_ptr<Subprocess> StartPrometheus(const std::string& dir, const std::string& yml,
                                            int port, const std::vector<std::string>& flags = {});

std::string ReadFile(const std::string& path);
void WriteFile(const std::string& path, const std::string& content);

// Runs a shell command, returns its exit code and fills `output` with stdout+stderr.
int RunCommand(const std::string& command, std::string* output);

// Directory of the build tree's binaries (set by CMake).
std::string BinaryDir();

}  // namespace vitals_test

#endif  // VITALS_TESTS_SUPPORT_PROCESS_H_
