#include "agent/core/text_escape.h"

#include <catch2/catch.hpp>
#include <cmath>
#include <limits>

namespace {

using namespace vitals::internal;

TEST_CASE("label values escape backslash, quote and newline", "[escape]") {
  std::string out;
  AppendEscapedLabelValue(out, "a\\b\"c\nd");
  CHECK(out == "a\\\\b\\\"c\\nd");
}

TEST_CASE("help text escapes backslash and newline only", "[escape]") {
  std::string out;
  AppendEscapedHelp(out, "50\" \\ of\nall");
  CHECK(out == "50\" \\\\ of\\nall");
}

TEST_CASE("invalid UTF-8 is replaced and long values cut on a character boundary", "[escape]") {
  CHECK(IsValidUtf8("plain"));
  CHECK(IsValidUtf8("caf\xC3\xA9 \xF0\x9F\x98\x80"));
  CHECK_FALSE(IsValidUtf8("\xC3"));              // truncated
  CHECK_FALSE(IsValidUtf8("\xC0\xAF"));          // overlong
  CHECK_FALSE(IsValidUtf8("\xED\xA0\x80"));      // surrogate
  CHECK_FALSE(IsValidUtf8("\xF4\x90\x80\x80"));  // past U+10FFFF
  CHECK(RepairUtf8("a\xFF"
                   "b") ==
        "a\xEF\xBF\xBD"
        "b");
  CHECK(RepairUtf8("\xC3") == "\xEF\xBF\xBD");
  CHECK(IsValidUtf8(RepairUtf8("\xE2\x82")));
  const std::string cut = RepairUtf8("\xC3\xA9\xC3\xA9\xC3\xA9", 5);
  CHECK(cut == "\xC3\xA9\xC3\xA9");
}

TEST_CASE("label pairs of hostile values are valid and bounded", "[escape]") {
  std::string out;
  AppendLabelPair(out, "route", std::string(5000, 'x') + "\xFF");
  CHECK(out.size() <= kMaxLabelValueBytes + 10);
  CHECK(IsValidUtf8(out));
}

TEST_CASE("sample values are spelled as Prometheus reads them", "[escape]") {
  auto v = [](double d) {
    std::string s;
    AppendValue(s, d);
    return s;
  };
  CHECK(v(0) == "0");
  CHECK(v(42) == "42");
  CHECK(v(-3) == "-3");
  CHECK(v(0.005) == "0.005");
  CHECK(v(0.0005) == "0.0005");
  CHECK(v(1e-5) == "1e-05");
  CHECK(v(2.5) == "2.5");
  CHECK(v(1e300) == "1e+300");
  CHECK(v(std::numeric_limits<double>::infinity()) == "+Inf");
  CHECK(v(-std::numeric_limits<double>::infinity()) == "-Inf");
  CHECK(v(std::nan("")) == "NaN");
  CHECK(std::stod(v(0.1 + 0.2)) == 0.1 + 0.2);  // round-trips
}

}  // namespace
