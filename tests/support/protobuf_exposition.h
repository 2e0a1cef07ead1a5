// Test helper: decodes the protobuf exposition format (a stream of length-delimited
// io.prometheus.client.MetricFamily messages) with the real `protoc --decode` and
// tests/support/metrics.proto, into protoc's text format, one family after another.

#ifndef VITALS_TESTS_SUPPORT_PROTOBUF_EXPOSITION_H_
#define VITALS_TESTS_SUPPORT_PROTOBUF_EXPOSITION_H_

#include <cstdint>
#include <string>
#include <vector>

#include "tests/support/process.h"

namespace vitals_test {

// Splits a delimited stream into its messages; empty on a malformed length.
inline std::vector<std::string> Delimited(const std::string& stream) {
  std::vector<std::string> out;
  size_t at = 0;
  while (at < stream.size()) {
    uint64_t n = 0;
    int shift = 0;
    while (at < stream.size()) {
      const auto byte = static_cast<unsigned char>(stream[at++]);
      n |= uint64_t{byte & 0x7fu} << shift;
      shift += 7;
      if (!(byte & 0x80)) break;
    }
    if (at + n > stream.size()) return {};
    out.push_back(stream.substr(at, n));
    at += n;
  }
  return out;
}

// Each message of `stream` decoded by protoc, followed by "---\n"; a message protoc rejects
// adds "protoc failed: <its output>" instead. `source_dir` is the repository root.
inline std::string DecodeExposition(const std::string& stream, const std::string& source_dir) {
  TempDir dir;
  std::string decoded;
  const std::vector<std::string> messages = Delimited(stream);
  for (size_t i = 0; i < messages.size(); ++i) {
    const std::string path = dir.path() + "/m" + std::to_string(i);
    WriteFile(path, messages[i]);
    std::string one;
    const int rc = RunCommand("protoc --proto_path=" + source_dir +
                                  "/tests/support --decode=io.prometheus.client.MetricFamily "
                                  "metrics.proto < " +
                                  path + " 2>&1",
                              &one);
    decoded += (rc == 0 ? one : "protoc failed: " + one) + "---\n";
  }
  return decoded;
}

}  // namespace vitals_test

#endif  // VITALS_TESTS_SUPPORT_PROTOBUF_EXPOSITION_H_
