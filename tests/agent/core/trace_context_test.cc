#include "vitals/trace_context.h"

#include <catch2/catch.hpp>

#include "absl/strings/escaping.h"

namespace vitals {
namespace {

TEST_CASE("traceparent: the W3C example parses into its trace and span ids", "[trace]") {
  const TraceContext t =
      TraceContext::FromTraceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
  REQUIRE(t.valid());
  CHECK(t.trace_id_high == 0x4bf92f3577b34da6ULL);
  CHECK(t.trace_id_low == 0xa3ce929d0e0e4736ULL);
  CHECK(t.span_id == 0x00f067aa0ba902b7ULL);
  CHECK(t.TraceIdHex() == "4bf92f3577b34da6a3ce929d0e0e4736");
  CHECK(t.SpanIdHex() == "00f067aa0ba902b7");
  // Surrounding blanks (header folding) and upper-case hex are tolerated.
  CHECK(TraceContext::FromTraceparent(
            " 00-4BF92F3577B34DA6A3CE929D0E0E4736-00F067AA0BA902B7-00\t") == t);
}

TEST_CASE("traceparent: malformed headers give no trace", "[trace]") {
  for (const char* bad : {
           "",
           "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",       // no flags
           "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",     // short trace id
           "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b-01",     // short span id
           "00-00000000000000000000000000000000-00f067aa0ba902b7-01",    // all-zero trace id
           "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",    // all-zero span id
           "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-x",  // v00 has 4 fields
           "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",    // version ff
           "00-4bf92f3577b34da6a3ce929d0e0e473g-00f067aa0ba902b7-01",    // not hex
           "00_4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7_01",    // wrong separators
       }) {
    INFO(bad);
    CHECK_FALSE(TraceContext::FromTraceparent(bad).valid());
  }
  // A later version may append fields after a dash.
  CHECK(TraceContext::FromTraceparent(
            "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-future")
            .valid());
}

TEST_CASE("trace ids from hex: an optional span, and the same checks", "[trace]") {
  const TraceContext t = TraceContext::FromHex("0af7651916cd43dd8448eb211c80319c");
  REQUIRE(t.valid());
  CHECK(t.span_id == 0);
  CHECK(TraceContext::FromHex("0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331").span_id ==
        0xb7ad6b7169203331ULL);
  CHECK_FALSE(TraceContext::FromHex("0af7651916cd43dd8448eb211c80319").valid());
  CHECK_FALSE(TraceContext::FromHex("0af7651916cd43dd8448eb211c80319c", "b7ad").valid());
  CHECK_FALSE(TraceContext{}.valid());
}

TEST_CASE("grpc-trace-bin: OpenCensus's binary trace context, and every malformed form refused",
          "[trace]") {
  // Version 0; field 0, the trace id; field 1, the span id; field 2, the options.
  std::string bin("\x00\x00", 2);
  bin += std::string("\x4b\xf9\x2f\x35\x77\xb3\x4d\xa6\xa3\xce\x92\x9d\x0e\x0e\x47\x36", 16);
  const std::string span("\x01\x00\xf0\x67\xaa\x0b\xa9\x02\xb7", 9);
  const std::string options("\x02\x01", 2);
  const TraceContext t = TraceContext::FromGrpcTraceBin(bin + span + options);
  REQUIRE(t.valid());
  CHECK(t ==
        TraceContext::FromTraceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"));
  // The span id is optional; fields after it are skipped.
  CHECK(TraceContext::FromGrpcTraceBin(bin).span_id == 0);
  CHECK(TraceContext::FromGrpcTraceBin(bin + options).valid());
  CHECK(TraceContext::FromGrpcTraceBin(bin + span + "\x09whatever").valid());
  for (const std::string& bad : {
           std::string(), bin.substr(0, 17),                     // a short trace id
           std::string("\x01", 1) + bin.substr(1),               // version 1
           std::string("\x00\x01", 2) + bin.substr(2),           // field 1 first
           std::string("\x00\x00", 2) + std::string(16, '\0'),   // all-zero trace id
           bin + span.substr(0, 5),                              // a short span id
           bin + std::string("\x01", 1) + std::string(8, '\0'),  // all-zero span id
       }) {
    INFO(absl::CHexEscape(bad));
    CHECK_FALSE(TraceContext::FromGrpcTraceBin(bad).valid());
  }
}

}  // namespace
}  // namespace vitals
