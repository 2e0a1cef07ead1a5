// Fuzz target: the /vitals.json encoder (exporters/live_endpoint.h), which writes route names,
// statement texts, table names and numbers that came from the service's traffic. Invariants:
// whatever the strings and numbers (invalid UTF-8, control characters, NaN, infinities), the
// document is valid JSON (tests/fuzz/json_reader.h, a strict reader written apart from the
// writer), and every string comes back as the input repaired to UTF-8.

#include <cstddef>
#include <cstdint>
#include <string>

#include "agent/core/text_escape.h"
#include "exporters/live_endpoint.h"
#include "tests/fuzz/fuzz_check.h"
#include "tests/fuzz/json_reader.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  vitals_fuzz::FuzzInput in(data, size);
  vitals::exporters::LiveView view;
  view.now = absl::FromUnixSeconds(1'800'000'000);
  std::vector<std::string> given;
  auto text = [&](absl::string_view s) {
    given.emplace_back(s);
    return std::string(s);
  };
  view.service = text(in.Next());
  view.version = text(in.Next());
  vitals::exporters::LiveView::SlowRequest slow;
  slow.at = view.now;
  slow.method = text(in.Next());
  slow.route = text(in.Next());
  slow.status = static_cast<int>(in.Byte()) * 3;
  slow.seconds = in.Double();
  view.slow_requests.push_back(slow);
  vitals::exporters::LiveView::Statement st;
  st.system = text(in.Next());
  st.text = text(in.Next());
  st.table = text(in.Next());
  st.calls = in.Double();
  st.total_seconds = in.Double();
  st.max_seconds = in.Double();
  view.statements.push_back(st);
  vitals::exporters::LiveView::NPlusOne n;
  n.method = text(in.Next());
  n.route = text(in.Next());
  n.statement = text(in.Next());
  n.table = text(in.Next());
  n.last_at = view.now;
  view.n_plus_one.push_back(n);
  view.in_flight.count = in.Byte();
  view.in_flight.oldest_seconds = in.Double();

  const std::string json = vitals::exporters::LiveEndpoint::RenderJson(view);
  vitals_fuzz::JsonReader reader;
  const std::string why = reader.Read(json);
  FUZZ_CHECK(why.empty(), "/vitals.json is not valid JSON: %s\n%s", why.c_str(),
             vitals_fuzz::Show(json).c_str());
  for (const std::string& s : given) {
    const std::string want = vitals::internal::RepairUtf8(s);
    bool found = false;
    for (const std::string& got : reader.strings()) found |= got == want;
    FUZZ_CHECK(found, "the string %s does not come back", vitals_fuzz::Show(want).c_str());
  }
  return 0;
}
