// tests/support/metrics_text.h: reading values back out of an exposition body.

#ifndef VITALS_TESTS_SUPPORT_METRICS_TEXT_H_
#define VITALS_TESTS_SUPPORT_METRICS_TEXT_H_

#include <cstdlib>
#include <sstream>
#include <string>

namespace vitals_test {

// The value of the sample line that starts with `series` exactly (name plus labels, e.g.
// `foo{a="b"}`), or -1 when there is none.
inline double SampleValue(const std::string& body, const std::string& series) {
  std::istringstream in(body);
  std::string line;
  while (std::getline(in, line)) {
    if (line.compare(0, series.size(), series) == 0 && line.size() > series.size() &&
        line[series.size()] == ' ') {
      return std::strtod(line.c_str() + series.size() + 1, nullptr);
    }
  }
  return -1;
}

// Number of lines starting with `prefix`.
inline int CountLines(const std::string& body, const std::string& prefix) {
  std::istringstream in(body);
  std::string line;
  int n = 0;
  while (std::getline(in, line)) n += line.compare(0, prefix.size(), prefix) == 0;
  return n;
}

}  // namespace vitals_test

#endif  // VITALS_TESTS_SUPPORT_METRICS_TEXT_H_
