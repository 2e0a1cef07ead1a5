#!/usr/bin/env python3
"""scripts/check-references: passes on this tree, and fails, naming the file, line and name, on a
tree with each kind of name that points at nothing."""
import os
import subprocess
import sys
import tempfile

SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts",
                      "check-references")


def run(root):
    p = subprocess.run([sys.executable, SCRIPT, "--root", root], capture_output=True, text=True)
    return p.returncode, p.stdout + p.stderr


def tree(files):
    root = tempfile.mkdtemp(prefix="check-references-")
    for path, text in files.items():
        full = os.path.join(root, path)
        os.makedirs(os.path.dirname(full), exist_ok=True)
        with open(full, "w") as f:
            f.write(text)
    return root


GOOD = {
    "include/vitals/widget.h": "// vitals/widget.h: see agent/core/widget.cc and Widget::Spin.\n"
                               "struct Widget {\n  void Spin();\n  int turns = 0;\n};\n",
    "agent/core/widget.cc": "// Widget::turns counts; docs/widgets.md says why.\n"
                            '#include "vitals/widget.h"\nvoid Widget::Spin() { ++turns; }\n',
    "docs/widgets.md": "# Widgets\n\n`Widget::Spin` in [the header](../include/vitals/widget.h);"
                       " tests in `tests/widget_*.cc`.\n",
    "tests/widget_test.cc": "// A path in a string literal is code, not a name to check.\n"
                            'const char* kPath = "agent/not/here.h";\n',
    "scripts/tool": "#!/usr/bin/env python3\n# Reads docs/widgets.md.\nprint('#agent/x.h')\n",
}


def main():
    failures = []
    code, out = run(os.path.join(os.path.dirname(SCRIPT), ".."))
    if code != 0:
        failures.append(f"the real tree should pass:\n{out}")
    code, out = run(tree(GOOD))
    if code != 0:
        failures.append(f"a clean tree should pass:\n{out}")

    planted = {
        "a C++ comment naming a file that moved": (
            "agent/core/widget.cc", "// See agent/core/gadget.h.\n",
            "agent/core/widget.cc:1: names agent/core/gadget.h, which does not exist"),
        "a public header that is not one": (
            "agent/core/w2.cc", "// Declared in vitals/gadget.h.\n",
            "agent/core/w2.cc:1: names vitals/gadget.h, which is not a public header"),
        "a Markdown link to a missing page": (
            "docs/widgets.md", "# Widgets\n\nSee [the design](design.md).\n",
            "docs/widgets.md:3: links design.md, which does not exist"),
        "a member that was renamed": (
            "docs/widgets.md", "# Widgets\n\nCall `Widget::Rotate`.\n",
            "docs/widgets.md:3: names Widget::Rotate, which Widget does not have"),
        "a shell comment naming a missing script": (
            "scripts/tool", "#!/bin/sh\n# Runs scripts/gone first.\n",
            "scripts/tool:2: names scripts/gone, which does not exist"),
    }
    for what, (path, text, expected) in planted.items():
        files = dict(GOOD)
        files[path] = text
        code, out = run(tree(files))
        if code == 0 or expected not in out:
            failures.append(f"{what}: want a failure with {expected!r}, got ({code}):\n{out}")
    # A dependency's type of the same name is not ours to check.
    files = dict(GOOD)
    files["docs/widgets.md"] = "# Widgets\n\n`prometheus::Widget::Add` is theirs.\n"
    code, out = run(tree(files))
    if code != 0:
        failures.append(f"a dependency's Widget::Add should pass:\n{out}")

    if failures:
        print("\n\n".join(failures))
        return 1
    print(f"ok: the real tree passes, a clean tree passes, {len(planted)} planted names fail")
    return 0


if __name__ == "__main__":
    sys.exit(main())
