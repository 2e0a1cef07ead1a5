#!/usr/bin/env python3
"""Structural test of the vitals dashboards (dashboards/grafana/*.json).

Checks every dashboard is valid JSON that matches dashboards/generate.py, has a unique uid,
the datasource/job/instance variables, and that every panel has a unique id, a grid position
inside the 24-column grid, a unit, a description, the datasource variable as its datasource,
and at least one query, and that no query needs the recording rules. Exit status 1 with one line per problem.
"""

import glob
import json
import os
import re
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
DS = {"type": "prometheus", "uid": "${datasource}"}


def check(path, uids, problems):
    name = os.path.basename(path)
    try:
        with open(path) as f:
            board = json.load(f)
    except ValueError as e:
        problems.append("%s: not valid JSON: %s" % (name, e))
        return

    def bad(what):
        problems.append("%s: %s" % (name, what))

    uid = board.get("uid")
    if not uid:
        bad("no uid")
    elif uid in uids:
        bad("uid %r also used by %s" % (uid, uids[uid]))
    else:
        uids[uid] = name
    if not isinstance(board.get("schemaVersion"), int) or board["schemaVersion"] < 36:
        bad("schemaVersion missing or older than 36")
    variables = {v.get("name"): v for v in board.get("templating", {}).get("list", [])}
    for var in ("datasource", "job", "instance"):
        if var not in variables:
            bad("no template variable %r" % var)
    if variables.get("datasource", {}).get("type") != "datasource":
        bad("variable 'datasource' is not a datasource variable")
    for var in variables.values():
        if var.get("type") == "query" and var.get("datasource") != DS:
            bad("variable %r does not use ${datasource}" % var.get("name"))
    if "route" in variables or name == "service-overview.json":
        if "route" not in variables:
            bad("no template variable 'route'")
    panels = board.get("panels") or []
    if not panels:
        bad("no panels")
    ids = set()
    for panel in panels:
        title = panel.get("title", "?")
        if panel.get("type") == "row":  # a row header: an id and a full-width line, no query
            if not isinstance(panel.get("id"), int) or panel["id"] in ids:
                bad("row %r: no id, or an id used twice" % title)
            ids.add(panel.get("id"))
            if (panel.get("gridPos") or {}).get("w") != 24 or panel.get("collapsed"):
                bad("row %r: not an expanded full-width row" % title)
            continue
        where = "panel %r" % title
        pid = panel.get("id")
        if not isinstance(pid, int):
            bad(where + ": no integer id")
        elif pid in ids:
            bad(where + ": id %d used twice" % pid)
        ids.add(pid)
        grid = panel.get("gridPos") or {}
        if not all(isinstance(grid.get(k), int) for k in ("h", "w", "x", "y")):
            bad(where + ": incomplete gridPos")
        elif grid["x"] < 0 or grid["w"] <= 0 or grid["x"] + grid["w"] > 24 or grid["h"] <= 0:
            bad(where + ": gridPos outside the 24-column grid")
        if panel.get("datasource") != DS:
            bad(where + ": datasource is not the ${datasource} variable")
        if not panel.get("description"):
            bad(where + ": no description")
        if not panel.get("fieldConfig", {}).get("defaults", {}).get("unit"):
            bad(where + ": no unit")
        targets = panel.get("targets") or []
        if not any(t.get("expr") for t in targets):
            bad(where + ": no query")
        refs = [t.get("refId") for t in targets]
        if len(set(refs)) != len(refs):
            bad(where + ": duplicate refId")
        for t in targets:
            if t.get("datasource") != DS:
                bad(where + ": query %s does not use ${datasource}" % t.get("refId"))
            # Every panel has data without the recording rules (a Prometheus that did not load
            # dashboards/rules still fills it): no rule name (level:metric:operation) in a query.
            if re.search(r"\b\w+:\w+:\w+\b", t.get("expr", "")):
                bad(where + ": query %s reads a recording rule" % t.get("refId"))
        # Units that fit: a ratio query is shown as a percentage, CPU in percent of a core.
        if "CPU" in title and panel.get("fieldConfig", {}).get("defaults", {}).get("unit") != \
                "percentunit":
            bad(where + ": CPU should be shown in percent of a core (percentunit)")
    for link in board.get("links", []):
        if "vitals" not in link.get("tags", []):
            bad("dashboard link without the vitals tag")


def main():
    problems = []
    paths = sorted(glob.glob(os.path.join(ROOT, "grafana", "*.json")))
    if len(paths) < 4:
        problems.append("expected 4 dashboards in dashboards/grafana, found %d" % len(paths))
    uids = {}
    for path in paths:
        check(path, uids, problems)
    gen = subprocess.run([sys.executable, os.path.join(ROOT, "generate.py"), "--check"],
                         capture_output=True, text=True)
    if gen.returncode != 0:
        problems.append(gen.stdout.strip() or gen.stderr.strip())
    for p in problems:
        print(p)
    print("%d dashboards, %d problems" % (len(paths), len(problems)))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
