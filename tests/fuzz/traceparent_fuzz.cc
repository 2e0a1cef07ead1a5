// Fuzz target: the W3C traceparent header and hex trace ids (vitals/trace_context.h), read
// from every traced request. Invariants: a valid context has a non-zero trace id; its hex
// forms parse back to the same ids; a header accepted once is accepted again after
// lower-casing (ids are case-insensitive on input, lower-case on output).

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/strings/ascii.h"
#include "tests/fuzz/fuzz_check.h"
#include "vitals/trace_context.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  vitals_fuzz::FuzzInput in(data, size);
  const absl::string_view header = in.Next(), trace_hex = in.Next(), span_hex = in.Next();
  for (const vitals::TraceContext& t : {vitals::TraceContext::FromTraceparent(header),
                                        vitals::TraceContext::FromHex(trace_hex, span_hex)}) {
    if (!t.valid()) continue;
    FUZZ_CHECK(t.trace_id_high != 0 || t.trace_id_low != 0, "a valid all-zero trace id");
    const std::string id = t.TraceIdHex(), span = t.SpanIdHex();
    FUZZ_CHECK(id.size() == 32 && span.size() == 16, "hex of %zu and %zu digits", id.size(),
               span.size());
    // No span id (FromHex with an empty one) prints as 16 zeros, which FromHex refuses.
    const vitals::TraceContext back =
        vitals::TraceContext::FromHex(id, t.span_id != 0 ? absl::string_view(span) : "");
    FUZZ_CHECK(back.trace_id_high == t.trace_id_high && back.trace_id_low == t.trace_id_low,
               "trace id %s does not parse back", id.c_str());
    if (t.span_id != 0) {
      FUZZ_CHECK(back.span_id == t.span_id, "span id %s does not parse back", span.c_str());
    }
  }
  const vitals::TraceContext once = vitals::TraceContext::FromTraceparent(header);
  if (once.valid()) {
    const std::string lower = absl::AsciiStrToLower(header);
    const vitals::TraceContext again = vitals::TraceContext::FromTraceparent(lower);
    FUZZ_CHECK(again.valid() && again.trace_id_low == once.trace_id_low &&
                   again.trace_id_high == once.trace_id_high && again.span_id == once.span_id,
               "lower-cased header reads differently");
  }
  return 0;
}
