#!/usr/bin/env python3
"""Every Catch2 test name can be run by ctest.

catch_discover_tests (Catch2 2.13) splits the names it discovers on ';' (a CMake list), so a
TEST_CASE whose name holds one becomes two ctest tests, neither of which matches a test case:
both fail in CI, though the test case itself passes. This reads every TEST_CASE name under
tests/ (TEST_CASE and TEST_CASE_METHOD; string literals joined across lines) and fails naming each that holds a ';'.
"""

import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# TEST_CASE("name" ...) and TEST_CASE_METHOD(Fixture, "name" ...).
NAME = re.compile(r'TEST_CASE(?:\(|_METHOD\(\s*[\w:]+\s*,)\s*((?:"(?:[^"\\]|\\.)*"\s*)+)', re.S)


def main():
    bad = []
    count = 0
    for folder, _, files in os.walk(ROOT):
        if "node_modules" in folder:
            continue
        for f in files:
            if not f.endswith(".cc"):
                continue
            path = os.path.join(folder, f)
            with open(path, encoding="utf-8") as src:
                text = src.read()
            for m in NAME.finditer(text):
                name = "".join(re.findall(r'"((?:[^"\\]|\\.)*)"', m.group(1)))
                count += 1
                if ";" in name:
                    line = text.count("\n", 0, m.start()) + 1
                    bad.append("%s:%d: %s" % (os.path.relpath(path, ROOT), line, name))
    for b in bad:
        print("FAIL: a ';' in a test name (ctest would split it):", b)
    print("%d test names, %d with a ';'" % (count, len(bad)))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
