#!/usr/bin/env python3
"""Checks the dynamic symbol table of a shared libvitals against the public headers.

usage: check_exports.py LIBVITALS_SO INCLUDE_DIR
       check_exports.py --self-test INCLUDE_DIR

Every exported symbol must be vitals' public API: a name in namespace vitals that
include/vitals/ declares (typeinfo and vtables of those types included). Of vitals::internal
only what the inline record paths in include/vitals/detail/ reach may be exported (the cell
table, the agent life slots, the slow adds); nothing of agent/ or exporters/ (vitals::http,
vitals::exporters, the rest of vitals::internal), and no std::, absl:: or other symbol. The
public API must be there too: a few symbols every user links are required.

--self-test plants violations in a made-up symbol list and fails unless each one is caught and
a clean list passes.
"""

import glob
import os
import re
import subprocess
import sys

PREFIXES = ("typeinfo name for ", "typeinfo for ", "vtable for ", "VTT for ",
            "guard variable for ")
# Symbols every user of the library links: their absence means the export mark does not work.
REQUIRED = ("vitals::Agent::Agent(", "vitals::Agent::Start(", "vitals::RequestScope::RequestScope(",
            "vitals::RouteHandle::Record(", "vitals::internal::g_cell_table",
            "vitals::internal::g_agent_lives", "typeinfo for vitals::Clock")


def identifiers(paths):
    names = set()
    for path in paths:
        with open(path, encoding="utf-8") as f:
            names.update(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", f.read()))
    return names


def strip_templates(name):
    while True:
        stripped = re.sub(r"<[^<>]*>", "", name)
        if stripped == name:
            return name
        name = stripped


def components(symbol):
    """vitals::Agent::Start(absl::Status) const -> ['vitals', 'Agent', 'Start']"""
    for p in PREFIXES:
        if symbol.startswith(p):
            symbol = symbol[len(p):]
            break
    head = strip_templates(symbol.split("(", 1)[0])
    return head.split("::")


def violations(symbols, public_names, detail_names):
    found = []
    for s in symbols:
        parts = components(s)
        if parts[0] != "vitals" or len(parts) < 2:
            found.append((s, "not a symbol of namespace vitals"))
        elif parts[1] in ("http", "exporters"):
            found.append((s, "a part of agent/ or exporters/"))
        elif parts[1] == "internal":
            if len(parts) < 3 or parts[2] not in detail_names:
                found.append((s, "vitals::internal beyond what include/vitals/detail/ declares"))
        elif parts[1] not in public_names:
            found.append((s, "a name include/vitals/ does not declare"))
    missing = [r for r in REQUIRED if not any(s.startswith(r) for s in symbols)]
    return found, missing


def exported(library):
    out = subprocess.run(["nm", "-D", "--defined-only", "-C", library], check=True,
                         capture_output=True, text=True).stdout
    symbols = []
    for line in out.splitlines():
        fields = line.split(" ", 2)
        if len(fields) == 3 and fields[1] != "A":  # "A": the version node, not code
            symbols.append(fields[2])
    return symbols


def self_test(public_names, detail_names):
    clean = ["vitals::Agent::Agent(vitals::Options const&)", "vitals::Agent::Start()",
             "vitals::RequestScope::RequestScope(vitals::RouteHandle const&)",
             "vitals::RouteHandle::Record(int, absl::Duration) const",
             "vitals::internal::g_cell_table", "vitals::internal::g_agent_lives",
             "typeinfo for vitals::Clock", "vtable for vitals::LogSink",
             "vitals::MetricFamily<vitals::Gauge>::Labels(std::initializer_list<std::string>)"]
    planted = ["vitals::internal::Registry::AddCollectable(std::weak_ptr<prometheus::Collectable>)",
               "vitals::http::HttpServer::Start()",
               "vitals::exporters::TextFormat::Render(std::string&)",
               "absl::lts_20220623::Status::ToString() const",
               "std::vector<double, std::allocator<double> >::_M_realloc_insert(double&&)",
               "vitals::NotDeclaredAnywhere::Run()"]
    ok = True
    found, missing = violations(clean, public_names, detail_names)
    if found or missing:
        print("self-test: the clean list was flagged:", found, missing)
        ok = False
    for p in planted:
        found, _ = violations(clean + [p], public_names, detail_names)
        if [s for s, _ in found] != [p]:
            print("self-test: a planted violation was not caught:", p)
            ok = False
    found, missing = violations(clean[1:], public_names, detail_names)
    if not missing:
        print("self-test: a missing required symbol was not caught")
        ok = False
    print("self-test", "passed" if ok else "FAILED")
    return 0 if ok else 1


def main(argv):
    if len(argv) != 3:
        print(__doc__)
        return 2
    include = argv[2]
    public_names = identifiers(glob.glob(os.path.join(include, "vitals", "*.h")) +
                               glob.glob(os.path.join(include, "vitals", "*.h.in")))
    detail_names = identifiers(glob.glob(os.path.join(include, "vitals", "detail", "*.h")))
    if argv[1] == "--self-test":
        return self_test(public_names, detail_names)
    symbols = exported(argv[1])
    found, missing = violations(symbols, public_names, detail_names)
    for s, why in found:
        print("LEAK: %s (%s)" % (s, why))
    for r in missing:
        print("MISSING: no exported symbol starts with %s" % r)
    internal = sum(1 for s in symbols if components(s)[1:2] == ["internal"])
    print("%d exported symbols, %d of them vitals::internal (the inline paths' globals and slow "
          "adds); %d leaks, %d missing" % (len(symbols), internal, len(found), len(missing)))
    return 1 if found or missing else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
