#!/usr/bin/python3
"""Parses a Prometheus text exposition (or with --openmetrics, OpenMetrics 1.0 text) with the
official Python client's parser (its strict OpenMetrics one) and checks every help text and
label value against what the agent was expected to emit.

usage: check_exposition.py [--openmetrics] METRICS EXPECTED_TSV
EXPECTED_TSV lines: "help<TAB>family<TAB>hex" or "value<TAB>family<TAB>hex<TAB>count".
Exit 0 and "ok: ..." when all match; 1 and the first mismatches otherwise.
"""
import re
import sys

from prometheus_client import parser
from prometheus_client.openmetrics import parser as openmetrics_parser


def main():
    args = sys.argv[1:]
    openmetrics = args[0] == "--openmetrics"
    if openmetrics:
        args = args[1:]
    # newline="": no universal-newline translation, a raw CR inside a label value stays one.
    text = open(args[0], encoding="utf-8", newline="").read()  # invalid UTF-8 fails here
    parse = (openmetrics_parser if openmetrics else parser).text_string_to_metric_families
    families = {f.name: f for f in parse(text)}
    errors = []
    helps = values = 0
    for line in open(args[1], encoding="ascii"):
        kind, name, hexed, *rest = line.rstrip("\n").split("\t")
        want = bytes.fromhex(hexed).decode("utf-8")
        # The Python client drops the _total suffix from a counter family's name.
        family = families.get(name[: -len("_total")] if name.endswith("_total") else name)
        if family is None:
            errors.append(f"family {name} missing")
            continue
        if kind == "help":
            helps += 1
            if not openmetrics:
                # The 0.0.4 parser strips (Unicode) white space from the ends of every line
                # before it unescapes; the format itself keeps it (the OpenMetrics parser does
                # not strip). Compare what it can give back.
                escaped = want.replace("\\", "\\\\").replace("\n", "\\n").strip()
                want = re.sub(r"\\(\\|n)", lambda m: "\\" if m.group(1) == "\\" else "\n", escaped)
            if family.documentation != want:
                errors.append(f"help of {name} differs: {family.documentation[:80]!r} vs {want[:80]!r}")
        else:
            values += 1
            matches = [s for s in family.samples if s.labels.get("v") == want]
            if len(matches) != 1:
                errors.append(f"{name}: {len(matches)} samples with v={want[:60]!r}")
            elif matches[0].value != float(rest[0]):
                errors.append(f"{name}: v={want[:60]!r} has {matches[0].value}, want {rest[0]}")
    if errors:
        print("\n".join(errors[:20]))
        return 1
    print(f"ok: {helps} help texts, {values} values")
    return 0


if __name__ == "__main__":
    sys.exit(main())
