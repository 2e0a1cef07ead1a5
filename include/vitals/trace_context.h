// vitals/trace_context.h: the trace a recorded value belongs to, for exemplars.
//
// An exemplar ties one bucket of a histogram series to one traced request: Grafana draws it on
// the latency panel and a click opens that trace. vitals keeps at most one exemplar per bucket
// of each series (see `RouteHandle::Record`, `RequestScope::set_trace` and
// `Histogram::Observe`); they travel in the OpenMetrics and protobuf expositions as
// `{trace_id="<32 hex>",span_id="<16 hex>"}`, the label names OpenTelemetry and Grafana use.
//
// `FromTraceparent` reads the W3C Trace Context header (`traceparent: 00-<trace-id>-<parent-id>-
// <flags>`); `FromGrpcTraceBin` gRPC's binary `grpc-trace-bin` metadata; `FromHex` reads ids
// another framework gives as hex. Both reject malformed input
// (wrong length, non-hex, the all-zero ids the specification forbids) by returning an invalid
// context, which records no exemplar.
//
// Thread-safety: a plain value. Cost: parsing is a pass over at most 55 bytes, no allocation.

#ifndef VITALS_TRACE_CONTEXT_H_
#define VITALS_TRACE_CONTEXT_H_

#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"
#include "vitals/detail/export.h"

namespace vitals {

struct VITALS_EXPORT TraceContext {
  // The 16-byte trace id as two big-endian halves; both zero means "no trace".
  uint64_t trace_id_high = 0;
  uint64_t trace_id_low = 0;
  // The 8-byte span id; zero means "no span" (an exemplar then carries only trace_id).
  uint64_t span_id = 0;

  bool valid() const { return (trace_id_high | trace_id_low) != 0; }

  // The `traceparent` header's value. Version 00 must have exactly four fields; a higher
  // version may append fields after the flags, as the specification allows. Invalid on any
  // other input (and for version ff).
  static TraceContext FromTraceparent(absl::string_view header);

  // The `grpc-trace-bin` metadata value (OpenCensus's binary trace context, which gRPC's
  // OpenCensus and some Google libraries send): version 0, then fields by id: 0 the 16-byte
  // trace id, 1 the 8-byte span id, 2 one byte of options, in that order, each optional after
  // the trace id; unknown later fields end the parse, as the format says. Invalid on a version
  // other than 0, a missing or all-zero trace id, or a truncated field.
  static TraceContext FromGrpcTraceBin(absl::string_view value);

  // A 32-hex-digit trace id (case-insensitive) and an optional 16-hex-digit span id (empty:
  // none). Invalid when either is malformed or the trace id is all zeros.
  static TraceContext FromHex(absl::string_view trace_id, absl::string_view span_id = {});

  // Lower-case hex, as the exemplar labels print them: 32 digits and 16 digits.
  std::string TraceIdHex() const;
  std::string SpanIdHex() const;

  friend bool operator==(const TraceContext& a, const TraceContext& b) {
    return a.trace_id_high == b.trace_id_high && a.trace_id_low == b.trace_id_low &&
           a.span_id == b.span_id;
  }
};

}  // namespace vitals

#endif  // VITALS_TRACE_CONTEXT_H_
