#!/usr/bin/env python3
"""scripts/check-layers: passes on this tree, and fails, naming the file, line and rule, on a
tree with each kind of bad include."""
import os
import subprocess
import sys
import tempfile

SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts",
                      "check-layers")


def run(root):
    p = subprocess.run([sys.executable, SCRIPT, "--root", root], capture_output=True, text=True)
    return p.returncode, p.stdout + p.stderr


def tree(files):
    root = tempfile.mkdtemp(prefix="check-layers-")
    for path, text in files.items():
        full = os.path.join(root, path)
        os.makedirs(os.path.dirname(full), exist_ok=True)
        with open(full, "w") as f:
            f.write(text)
    return root


def main():
    failures = []
    code, out = run(os.path.join(os.path.dirname(SCRIPT), ".."))
    if code != 0:
        failures.append(f"the real tree should pass:\n{out}")

    good = {
        "agent/base/a.h": '#include "absl/strings/str_cat.h"\n',
        "agent/core/b.h": '#include "agent/base/a.h"\n#include "vitals/metrics.h"\n',
        "agent/db/c.cc": '#include "agent/core/b.h"\n',
        "exporters/d.cc": '#include "agent/core/b.h"\n#include "agent/http/e.h"\n',
        "agent/http/e.h": '#include "agent/base/a.h"\n',
        "agent/root/f.cc": '#include "exporters/d.h"\n#include "agent/db/c.h"\n'
                           '#include "vitals/agent.h"\n',
        "include/vitals/g.h": '#include "vitals/metrics.h"\n',
    }
    code, out = run(tree(good))
    if code != 0:
        failures.append(f"a clean tree should pass:\n{out}")

    bad = {
        "a feature including another": ("agent/requests/r.cc", '#include "agent/db/db_metrics.h"\n',
                                         "agent/requests/r.cc:1: includes agent/db/db_metrics.h"),
        "core including a feature": ("agent/core/x.h", '\n#include "agent/requests/r.h"\n',
                                     "agent/core/x.h:2: includes agent/requests/r.h"),
        "base including core": ("agent/base/y.cc", '#include "agent/core/family.h"\n',
                                "base may include base only"),
        "an exporter including a feature": ("exporters/z.cc", '#include "agent/profiling/p.h"\n',
                                            "exporters may include base, core, exporters, http"),
        "the transport including core": ("agent/http/s.cc", '#include "agent/core/registry.h"\n',
                                         "http may include base, http only"),
        "a feature including the root": ("agent/cache/c.cc", '#include "agent/root/agent_impl.h"\n',
                                         "cache may include base, cache, core only"),
        "the transport including the metric engine's public header": (
            "agent/http/m.h", '#include "vitals/metrics.h"\n',
            "agent/http/m.h:1: includes vitals/metrics.h: http may include the public headers"),
        "base including a feature's public header": (
            "agent/base/q.h", '#include "vitals/db.h"\n',
            "agent/base/q.h:1: includes vitals/db.h: base may include the public headers"),
        "a feature including another feature's public header": (
            "agent/requests/t.cc", '#include "vitals/db.h"\n',
            "agent/requests/t.cc:1: includes vitals/db.h: requests may include the public headers"),
        "an include from an unknown root": (
            "agent/core/u.cc", '#include "agnet/base/a.h"\n',
            "agent/core/u.cc:1: includes agnet/base/a.h: unknown include root agnet/"),
        "a feature including vitals/agent.h": ("agent/db/d.cc", '#include "vitals/agent.h"\n',
                                               "only the composition root"),
        "a public header including internals": ("include/vitals/p.h",
                                                '#include "agent/core/family.h"\n',
                                                "public headers include only public headers"),
        "a file outside the layer folders": ("agent/loose.cc", "\n", "not in a layer folder"),
    }
    for what, (path, text, expected) in bad.items():
        files = dict(good)
        files[path] = text
        code, out = run(tree(files))
        if code != 1 or expected not in out:
            failures.append(f"{what}: want exit 1 and '{expected}', got {code}:\n{out}")

    if failures:
        print("\n".join(failures))
        return 1
    print(f"ok: the tree passes, and {len(bad)} kinds of bad include are caught")
    return 0


if __name__ == "__main__":
    sys.exit(main())
