// The README's tables against their single owners: the options table must be exactly what
// agent/root/options_table.cc generates, and the metric table must list exactly the families a
// fully configured agent creates, with their types and labels.

#include <catch2/catch.hpp>
#include <iostream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "agent/root/agent_access.h"
#include "agent/root/options_table.h"
#include "tests/support/fakes.h"
#include "tests/support/process.h"

namespace {

std::string Readme() {
  return vitals_test::ReadFile(std::string(VITALS_SOURCE_DIR) + "/README.md");
}

// The table that starts with the line `header`, up to the first line that is not a table row.
std::string TableAt(const std::string& text, const std::string& header) {
  const size_t at = text.find(header);
  if (at == std::string::npos) return "";
  std::istringstream in(text.substr(at));
  std::string line, out;
  while (std::getline(in, line) && !line.empty() && line[0] == '|') out += line + "\n";
  return out;
}

std::vector<std::string> Cells(const std::string& row) {
  std::vector<std::string> cells;
  for (absl::string_view c : absl::StrSplit(row, '|')) {
    cells.emplace_back(absl::StripAsciiWhitespace(c));
  }
  // "| a | b |" splits into "", "a", "b", "".
  if (!cells.empty()) cells.erase(cells.begin());
  if (!cells.empty()) cells.pop_back();
  return cells;
}

// `a`, `b` -> {a, b}
std::vector<std::string> CodeList(const std::string& cell) {
  std::vector<std::string> out;
  for (absl::string_view part : absl::StrSplit(cell, ',', absl::SkipWhitespace())) {
    absl::string_view p = absl::StripAsciiWhitespace(part);
    absl::ConsumePrefix(&p, "`");
    absl::ConsumeSuffix(&p, "`");
    out.emplace_back(p);
  }
  return out;
}

TEST_CASE("the README's options table is the one the options table generates", "[readme]") {
  const std::string expected = vitals::internal::OptionsTableMarkdown();
  const std::string actual = TableAt(Readme(), "| option | variable | default | meaning |");
  if (actual != expected) {
    // Unwrapped, so it can be pasted into README.md's Options section as it is.
    std::cout << "README.md's options table should read:\n" << expected;
  }
  CHECK(actual == expected);
}

TEST_CASE("every option is in the table, and the table parses every variable it names",
          "[readme]") {
  std::set<std::string> seen;
  for (const auto& spec : vitals::internal::OptionsTable()) {
    CHECK(seen.insert(spec.field).second);  // one row per field
    if (!spec.env.empty()) {
      CHECK(spec.parse != nullptr);
      CHECK(spec.env == "VITALS_" + absl::AsciiStrToUpper(spec.field));  // named after the field
    }
  }
  // Every field of struct Options (as include/vitals/options.h declares them) has a row.
  const std::string header =
      vitals_test::ReadFile(std::string(VITALS_SOURCE_DIR) + "/include/vitals/options.h");
  const size_t begin = header.find("struct Options {");
  const size_t end = header.find("\n};", begin);
  REQUIRE(begin != std::string::npos);
  std::set<std::string> declared;
  const std::regex member(R"(\n  [A-Za-z_:<>,* ]+? \*?([a-z_]+)(?: = [^;]*)?;)");
  const std::string body = header.substr(begin, end - begin);
  for (auto it = std::sregex_iterator(body.begin(), body.end(), member);
       it != std::sregex_iterator(); ++it) {
    declared.insert((*it)[1]);
  }
  CHECK(declared.size() > 30);
  CHECK(declared == seen);
}

TEST_CASE("the README's metric table lists exactly what a fully configured agent serves",
          "[readme]") {
  vitals::Options o = vitals_test::QuietOptions();
  o.log_sink = std::make_shared<vitals_test::CapturingSink>();
  o.profiling = true;
  o.auto_profile = true;
  o.body_sizes = true;
  o.pushgateway_url = "http://127.0.0.1:1";  // never started: only its families are created
  vitals::Agent agent(o);
  vitals::CircuitBreaker breaker("readme", {}, &agent);  // its families exist once one is bound
  REQUIRE(breaker.status().ok());
  std::map<std::string, std::string> served;  // name -> "type [labels]"
  vitals::internal::AgentAccess::Impl(agent).registry().ForEachFamily(
      [&](vitals::internal::Family& f) {
        served[f.name()] = std::string(vitals::internal::MetricTypeName(f.type())) + " [" +
                           absl::StrJoin(f.label_names(), ",") + "]";
      });
  std::map<std::string, std::string> documented;
  const std::string table = TableAt(Readme(), "| metric | type | labels | meaning |");
  REQUIRE(!table.empty());
  std::istringstream in(table);
  std::string line;
  std::getline(in, line);  // header
  std::getline(in, line);  // |---|
  while (std::getline(in, line)) {
    const std::vector<std::string> cells = Cells(line);
    REQUIRE(cells.size() == 4);
    for (const std::string& name : CodeList(cells[0])) {
      documented[name] = cells[1] + " [" + absl::StrJoin(CodeList(cells[2]), ",") + "]";
    }
  }
  CHECK(documented == served);
}

}  // namespace
