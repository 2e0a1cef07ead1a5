// Hostile label values and help texts through the text format, checked by the real promtool and
// by a second, independent parser (the official Python client's, Debian's
// python3-prometheus-client): the output always parses, and every value reads back as the
// agent's repaired, cut version of what was given.

#include <catch2/catch.hpp>
#include <random>
#include <string>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "agent/core/names.h"
#include "agent/core/registry.h"
#include "agent/core/text_escape.h"
#include "exporters/text_format.h"
#include "tests/support/process.h"
#include "vitals/metrics.h"

namespace {

using vitals::internal::MetricType;

// Random bytes with the characters that break expositions over-represented.
std::string Hostile(std::mt19937& rng, size_t max_len) {
  static const std::string special[] = {"\"",
                                        "\\",
                                        "\n",
                                        "\r",
                                        "\t",
                                        "{",
                                        "}",
                                        ",",
                                        "=",
                                        "#",
                                        std::string(1, '\0'),
                                        "\xff",
                                        "\xc3\x28",
                                        "\xe2\x82",
                                        "\xf0\x9f\x98\x80",
                                        "\xed\xa0\x80",
                                        "__overflow__",
                                        "\\n",
                                        "\xc3\xa9",
                                        " "};
  std::uniform_int_distribution<size_t> len(0, max_len);
  std::uniform_int_distribution<int> pick(0, 3);
  std::uniform_int_distribution<size_t> which(0, sizeof special / sizeof special[0] - 1);
  std::uniform_int_distribution<int> byte(0, 255);
  std::string out;
  const size_t n = len(rng);
  while (out.size() < n) {
    if (pick(rng) == 0) {
      out += special[which(rng)];
    } else {
      out += static_cast<char>(byte(rng));
    }
  }
  return out;
}

TEST_CASE(
    "2000 hostile label values and help texts: promtool and the Python parsers (text and "
    "OpenMetrics) accept the output and read every value back",
    "[reliability]") {
  std::mt19937 rng(20261128);
  vitals::internal::Registry registry(100000);
  std::string expected;  // "family<TAB>hex(help)" and "i<TAB>hex(value)<TAB>count" lines
  std::vector<vitals::internal::Family*> families;
  for (int f = 0; f < 20; ++f) {
    const std::string help = "Help " + Hostile(rng, 6000);
    auto family = registry.GetOrCreate(absl::StrCat("hostile_", f, "_total"), help,
                                       MetricType::kCounter, {"v", "w"}, {});
    REQUIRE(family.ok());
    families.push_back(*family);
    absl::StrAppend(
        &expected, "help\t", (*family)->name(), "\t",
        absl::BytesToHexString(vitals::internal::RepairUtf8(help, vitals::internal::kMaxHelpBytes)),
        "\n");
  }
  for (int i = 0; i < 2000; ++i) {
    // A unique prefix keeps two random values from repairing to one text.
    const std::string value = absl::StrCat(i, ":", Hostile(rng, i % 10 == 0 ? 5000 : 200));
    const std::string other = Hostile(rng, 20);
    const absl::string_view values[] = {value, other};
    vitals::internal::Series* series = families[i % 20]->Find(values);
    vitals::Counter counter = vitals::internal::Family::MakeHandle<vitals::Counter>(series);
    counter.Increment(i + 1);
    absl::StrAppend(&expected, "value\t", families[i % 20]->name(), "\t",
                    absl::BytesToHexString(vitals::internal::RepairUtf8(
                        value.substr(0, vitals::internal::kMaxLabelValueBytes),
                        vitals::internal::kMaxLabelValueBytes)),
                    "\t", i + 1, "\n");
  }
  std::string body;
  vitals::exporters::TextFormat format(nullptr);
  format.Render(registry, body);

  vitals_test::TempDir dir;
  vitals_test::WriteFile(dir.path() + "/metrics.txt", body);
  vitals_test::WriteFile(dir.path() + "/expected.tsv", expected);
  std::string lint;
  const int lint_code =
      vitals_test::RunCommand("promtool check metrics < " + dir.path() + "/metrics.txt", &lint);
  INFO(lint.substr(0, 2000));
  CHECK(lint_code == 0);
  CHECK(lint.empty());
  std::string parsed;
  const int parse_code =
      vitals_test::RunCommand(std::string(VITALS_DEBIAN_PYTHON) + " " + VITALS_SOURCE_DIR +
                                  "/tests/reliability/check_exposition.py " + dir.path() +
                                  "/metrics.txt " + dir.path() + "/expected.tsv",
                              &parsed);
  INFO(parsed.substr(0, 2000));
  CHECK(parse_code == 0);
  CHECK(parsed.find("ok: 20 help texts, 2000 values") != std::string::npos);

  // The same in OpenMetrics 1.0, through the Python client's strict OpenMetrics parser.
  body.clear();
  format.Render(registry, body, vitals::exporters::ExpositionFormat::kOpenMetrics);
  vitals_test::WriteFile(dir.path() + "/metrics.om", body);
  parsed.clear();
  const int om_code =
      vitals_test::RunCommand(std::string(VITALS_DEBIAN_PYTHON) + " " + VITALS_SOURCE_DIR +
                                  "/tests/reliability/check_exposition.py --openmetrics " +
                                  dir.path() + "/metrics.om " + dir.path() + "/expected.tsv",
                              &parsed);
  INFO(parsed.substr(0, 2000));
  CHECK(om_code == 0);
  CHECK(parsed.find("ok: 20 help texts, 2000 values") != std::string::npos);
}

}  // namespace
