#!/usr/bin/env python3
"""Every C++ and CMake snippet in README.md is a region of a file the build uses (a program of
examples/, which tests/examples/run_example.py runs, or the install test's consumer project):
each ```cpp or ```cmake block follows a `<!-- snippet: FILE#NAME -->` line, and its text is
exactly the lines between `// [readme:NAME]` and `// [/readme:NAME]` (`#` instead of `//` in
CMake files) in that file, common indentation removed. Exit 0 when all match; 1 with the
differences otherwise. With --fix, rewrites the README's blocks from their files."""
import difflib
import os
import re
import sys

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
MARKER = re.compile(r"^<!-- snippet: ((?:examples|tests/install)/[\w./-]+)#([\w-]+) -->$")
LANGUAGES = ("```cpp", "```cmake")


def region(path, name):
    with open(os.path.join(ROOT, path), encoding="utf-8") as f:
        lines = f.read().split("\n")
    starts = [i for i, l in enumerate(lines) if l.strip() in (f"// [readme:{name}]",
                                                                 f"# [readme:{name}]")]
    ends = [i for i, l in enumerate(lines) if l.strip() in (f"// [/readme:{name}]",
                                                               f"# [/readme:{name}]")]
    if len(starts) != 1 or len(ends) != 1 or ends[0] < starts[0]:
        return None
    body = lines[starts[0] + 1:ends[0]]
    indent = min((len(l) - len(l.lstrip()) for l in body if l.strip()), default=0)
    return "\n".join(l[indent:] for l in body)


def main():
    fix = "--fix" in sys.argv[1:]
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as f:
        readme = f.read().split("\n")
    problems, checked = [], 0
    for i, line in enumerate(readme):
        if line.strip() not in LANGUAGES:
            continue
        m = MARKER.match(readme[i - 1]) if i > 0 else None
        if not m:
            problems.append(f"README.md:{i + 1}: a {line.strip()[3:]} block without a snippet "
                            "marker before it")
            continue
        end = readme.index("```", i + 1)
        shown = "\n".join(readme[i + 1:end])
        source = region(m.group(1), m.group(2))
        if source is None:
            problems.append(f"README.md:{i}: no region {m.group(2)} in {m.group(1)}")
        elif shown != source and fix:
            readme[i + 1:end] = source.split("\n")
            print(f"README.md:{i + 2}: rewritten from {m.group(1)}#{m.group(2)}")
        elif shown != source:
            diff = "\n".join(difflib.unified_diff(source.split("\n"), shown.split("\n"),
                                                  m.group(1), "README.md", lineterm=""))
            problems.append(f"README.md:{i + 2}: differs from {m.group(1)}#{m.group(2)}:\n{diff}")
        checked += 1
    if fix:
        with open(os.path.join(ROOT, "README.md"), "w", encoding="utf-8") as f:
            f.write("\n".join(readme))
    if problems:
        print("\n".join(problems))
        return 1
    print(f"ok: {checked} C++ and CMake snippets match the files the build uses")
    return 0


if __name__ == "__main__":
    sys.exit(main())
