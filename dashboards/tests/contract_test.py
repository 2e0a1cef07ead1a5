#!/usr/bin/env python3
"""The dashboards-and-rules contract test.

Starts a throwaway PostgreSQL (scripts/throwaway-postgres), the real demo service on it (with
its load generator, memory, cache and database routes, traced requests and native histograms
on) and two real Prometheus servers that scrape it every second:
  - "classic", with exemplar storage on: it negotiates OpenMetrics text, so it stores the
    classic buckets and their exemplars, and evaluates dashboards/rules/;
  - "native", with exemplar storage and native histograms on: it negotiates the protobuf
    format and stores the native histograms (Prometheus 2.40-2.44 then drops the classic
    buckets of those families, which is why one server cannot serve both kinds of query).
It waits about 30 s, then runs through Prometheus' HTTP API:
  - every query of every panel of every dashboard, template variables substituted (queries of
    a native histogram, named without _bucket/_count/_sum, go to "native", the rest to
    "classic"),
  - every template variable query (label_values(m, l) as `group by (l) (m)`),
  - every recording rule,
  - /api/v1/query_exemplars for every query that asks Grafana to draw exemplars,
  - for every alert, each metric its expression reads (an alert's expression is empty while
    nothing is wrong, so the test asks that what it reads exists),
  - the demo's story (DEMO_STORY): its flaky upstream's circuit breaker opened and closed
    again, a burst saturated its report workers, its lookup by an unindexed column on
    PostgreSQL was explained and flagged,
and fails, naming the dashboard, panel and query, for each one that returns nothing.

usage: contract_test.py DEMO_BINARY [--preload LIBTCMALLOC]
"""

import glob
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
JOB = "vitals-demo"
SETTLE_SECONDS = 30   # the "after about 30 s"
RETRY_SECONDS = 60    # then each empty query is retried for up to this long in total

# Grafana's variables, as a user who selects "All" sees them, and its interval macros.
SUBSTITUTIONS = [
    ("${datasource}", ""),
    ("$__rate_interval", "1m"),
    ("$__interval", "15s"),
    ("$__range", "5m"),
    ("$job", ".*"),
    ("$instance", ".*"),
    ("$route", ".*"),
    ("$cache", ".*"),
    ("$rpc_method", ".*"),
    ("$server_address", ".*"),
    ("$breaker", ".*"),
    ("$executor", ".*"),
]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# What the demo does on purpose, checked in the "classic" Prometheus: each query must return a
# series. The demo runs with --outage-period=20: its flaky instance fails from 10 s to 20 s.
DEMO_STORY = [
    ("the flaky instance's breaker opened",
     'max_over_time(resilience4j_circuitbreaker_state{name="inventory-3",state="open"}[5m]) == 1'),
    ("the flaky instance's breaker closed again after opening (it left closed and came back)",
     'changes(resilience4j_circuitbreaker_state{name="inventory-3",state="closed"}[5m]) >= 2 '
     'and resilience4j_circuitbreaker_state{name="inventory-3",state="closed"} == 1'),
    ("the open breaker refused calls",
     'resilience4j_circuitbreaker_not_permitted_calls_total{name="inventory-3"} > 0'),
    ("the healthy instances' breakers never opened",
     'count(max_over_time(resilience4j_circuitbreaker_state{name=~"inventory-[12]",'
     'state="open"}[5m]) == 0) == 2'),
    ("a burst saturated the report workers: both busy, tasks queued",
     'max_over_time(executor_active_threads{name="reports"}[5m]) == 2 and '
     'max_over_time(executor_queued_tasks{name="reports"}[5m]) >= 10'),
    ("report tasks waited in the queue for 100 ms or more",
     'sum(executor_idle_seconds_count{name="reports"}) - '
     'sum(executor_idle_seconds_bucket{name="reports",le="0.1"}) > 0'),
    ("the demo's database is PostgreSQL, through its pool",
     'db_client_connection_max{db_client_connection_pool_name="demo-postgresql"} == 4 and on () '
     'count(db_client_operation_duration_seconds_count{db_system_name="postgresql"}) > 0'),
    ("the lookup by an unindexed column was explained and flagged",
     'vitals_db_index_candidates_total{db_system_name="postgresql",'
     'db_collection_name="accounts"} >= 1'),
]


def substitute(expr):
    for var, value in SUBSTITUTIONS:
        expr = expr.replace(var, value)
    left = re.findall(r"\$\{?\w+", expr)
    if left:
        raise ValueError("unsubstituted variables %s in %s" % (left, expr))
    return expr


def variable_query(query):
    m = re.match(r"^\s*label_values\((.*),\s*(\w+)\)\s*$", query)
    if m:
        return "group by (%s) (%s)" % (m.group(2), m.group(1))
    return query


# A native histogram family named as such (its classic series carry a suffix).
NATIVE = re.compile(r"(?<![:\w])(http_server_request_duration_seconds|"
                    r"db_client_operation_duration_seconds)(?![:\w])")


def collect():
    """(where, promql) for every dashboard query, variable query and recording rule."""
    out = []
    for path in sorted(glob.glob(os.path.join(ROOT, "grafana", "*.json"))):
        board = json.load(open(path))
        name = board["title"]
        for panel in board["panels"]:
            for t in panel.get("targets", []):
                where = "dashboard %r, panel %r, query %s" % (name, panel["title"], t["refId"])
                out.append((where, substitute(t["expr"])))
        for var in board["templating"]["list"]:
            if var.get("type") == "query":
                where = "dashboard %r, variable %r" % (name, var["name"])
                out.append((where, substitute(variable_query(var["query"]["query"]))))
    for path in sorted(glob.glob(os.path.join(ROOT, "rules", "*.yml"))):
        for line in open(path):
            m = re.match(r"^\s*- record:\s*(\S+)", line)
            if m:
                out.append(("recording rule %s (%s)" % (m.group(1), os.path.basename(path)),
                            m.group(1)))
    return out


PROMQL_WORDS = {"and", "or", "unless", "by", "without", "on", "ignoring", "group_left",
                "group_right", "offset", "bool", "inf", "nan"}


def alert_expressions():
    """(alert name, expression) for every alerting rule in dashboards/rules/."""
    out = []
    for path in sorted(glob.glob(os.path.join(ROOT, "rules", "*.yml"))):
        lines = open(path).read().split("\n")
        name = None
        for i, line in enumerate(lines):
            m = re.match(r"^\s*- alert:\s*(\S+)", line)
            if m:
                name = m.group(1)
                continue
            m = re.match(r"^(\s*)expr:\s*(.*)$", line)
            if not m or name is None:
                continue
            expr = m.group(2)
            if expr.strip() in ("|", ">", "|-", ">-"):
                indent, body = None, []
                for nxt in lines[i + 1:]:
                    if not nxt.strip():
                        break
                    depth = len(nxt) - len(nxt.lstrip())
                    if depth <= len(m.group(1)):
                        break
                    body.append(nxt.strip())
                expr = " ".join(body)
            out.append((name, expr))
            name = None
    return out


def metric_names(expr):
    """The metric names an expression reads: not strings, label matchers, grouping labels,
    functions, keywords, numbers or durations."""
    expr = re.sub(r'"(?:[^"\\]|\\.)*"', "", expr)
    expr = re.sub(r"\{[^}]*\}", "", expr)
    expr = re.sub(r"\[[^\]]*\]", "", expr)
    expr = re.sub(r"\b\d+(?:\.\d+)?(?:ms|s|m|h|d|w|y)\b", "", expr)  # offset 30m
    expr = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", expr)
    names = set()
    for m in re.finditer(r"[a-zA-Z_:][a-zA-Z0-9_:]*", expr):
        word = m.group(0)
        rest = expr[m.end():].lstrip()
        if word.lower() in PROMQL_WORDS or rest.startswith("("):
            continue
        names.add(word)
    return names


def exemplar_queries():
    """(where, promql) for every dashboard query that asks for exemplars."""
    out = []
    for path in sorted(glob.glob(os.path.join(ROOT, "grafana", "*.json"))):
        board = json.load(open(path))
        for panel in board["panels"]:
            for t in panel.get("targets", []):
                if t.get("exemplar"):
                    out.append(("dashboard %r, panel %r, query %s, exemplars"
                                % (board["title"], panel["title"], t["refId"]),
                                substitute(t["expr"])))
    return out


def api(port, path, params):
    url = "http://127.0.0.1:%d/api/v1/%s?%s" % (port, path, urllib.parse.urlencode(params))
    with urllib.request.urlopen(url, timeout=10) as r:
        body = json.load(r)
    if body.get("status") != "success":
        raise RuntimeError("%s failed: %s: %s" % (path, params, body))
    return body["data"]


def query(port, promql):
    return api(port, "query", {"query": promql})["result"]


def exemplars(port, promql):
    now = time.time()
    return [e for series in api(port, "query_exemplars",
                                {"query": promql, "start": now - 300, "end": now + 60})
            for e in series.get("exemplars", [])]


def start_prometheus(work, name, port, rules, metrics_port, flags):
    config = os.path.join(work, name + ".yml")
    with open(config, "w") as f:
        f.write("global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
                "rule_files:\n%s"
                "scrape_configs:\n  - job_name: %s\n    static_configs:\n"
                "      - targets: ['127.0.0.1:%d']\n"
                % ("".join("  - %s\n" % r for r in rules), JOB, metrics_port))
    log = open(os.path.join(work, name + ".log"), "w")
    return subprocess.Popen(
        ["prometheus", "--config.file=" + config,
         "--storage.tsdb.path=" + os.path.join(work, name + "-data"),
         "--web.listen-address=127.0.0.1:%d" % port] + flags,
        stdout=log, stderr=subprocess.STDOUT)


def main():
    if len(sys.argv) < 2:
        print(__doc__)
        return 2
    demo_bin = sys.argv[1]
    preload = sys.argv[sys.argv.index("--preload") + 1] if "--preload" in sys.argv else None
    work = tempfile.mkdtemp(prefix="vitals-contract-")
    os.chmod(work, 0o755)  # the postgres user reaches the server's directory inside it
    procs = []
    stops = []  # commands that stop what is not a child (the PostgreSQL server)
    try:
        metrics_port, prom_port, native_port = free_port(), free_port(), free_port()
        env = dict(os.environ)
        env.update({"VITALS_LISTEN": "127.0.0.1:%d" % metrics_port,
                    "VITALS_SAMPLE_INTERVAL": "1s", "VITALS_HEAP_GROWTH_WINDOW": "20s",
                    "VITALS_NATIVE_HISTOGRAMS": "true"})
        if preload:
            env["LD_PRELOAD"] = preload  # tcmalloc: the allocator panels have every series
        pg_dir = os.path.join(work, "postgres")
        started = subprocess.run([os.path.join(ROOT, "..", "scripts", "throwaway-postgres"),
                                  "start", pg_dir], capture_output=True, text=True)
        if started.returncode != 0:
            print("FAIL: PostgreSQL did not start:", started.stderr.strip())
            return 1
        stops.append([os.path.join(ROOT, "..", "scripts", "throwaway-postgres"), "stop", pg_dir])
        demo_log = open(os.path.join(work, "demo.log"), "w")
        procs.append(subprocess.Popen(
            [demo_bin, "--port=0", "--grpc-port=0", "--load-rps=100", "--cache-entries=110",
             "--outage-period=20", "--postgres=" + started.stdout.strip()], env=env,
            stdout=demo_log, stderr=subprocess.STDOUT))
        rules = sorted(glob.glob(os.path.join(ROOT, "rules", "*.yml")))
        procs.append(start_prometheus(work, "classic", prom_port, rules, metrics_port,
                                      ["--enable-feature=exemplar-storage"]))
        procs.append(start_prometheus(
            work, "native", native_port, [], metrics_port,
            ["--enable-feature=exemplar-storage", "--enable-feature=native-histograms"]))

        deadline = time.time() + 60
        up = False
        while time.time() < deadline and not up:
            time.sleep(0.5)
            try:
                up = all(any(r["value"][1] == "1" for r in query(port, 'up{job="%s"}' % JOB))
                         for port in (prom_port, native_port))
            except OSError:
                pass
        if not up:
            print("FAIL: Prometheus never scraped the demo; see", work)
            return 1
        time.sleep(SETTLE_SECONDS)

        queries = collect()
        wanted = [(where, promql, "native" if NATIVE.search(promql) else "classic", query)
                  for where, promql in queries]
        wanted += [(where, promql, "classic", exemplars) for where, promql in exemplar_queries()]
        wanted += [("demo: " + what, promql, "classic", query) for what, promql in DEMO_STORY]
        alerts = alert_expressions()
        for alert, expr in alerts:
            for metric in sorted(metric_names(expr)):
                wanted.append(("alert %s reads %s" % (alert, metric),
                               'count({__name__="%s"})' % metric, "classic", query))
        ports = {"classic": prom_port, "native": native_port}
        pending = list(wanted)
        deadline = time.time() + RETRY_SECONDS
        while pending and time.time() < deadline:
            still = []
            for where, promql, server, ask in pending:
                if not ask(ports[server], promql):
                    still.append((where, promql, server, ask))
            pending = still
            if pending:
                time.sleep(2)
        for where, promql, server, _ in pending:
            print("FAIL: empty result (%s Prometheus): %s\n      %s" % (server, where, promql))
        print("%d queries (%d of native histograms, %d of exemplars, %d metrics read by %d "
              "alerts) from %d dashboards and %d rule files, %d empty"
              % (len(wanted), sum(1 for w in wanted if w[2] == "native"),
                 sum(1 for w in wanted if w[3] is exemplars),
                 sum(1 for w in wanted if w[0].startswith("alert ")), len(alerts),
                 len(glob.glob(os.path.join(ROOT, "grafana", "*.json"))), len(rules),
                 len(pending)))
        # Error ratios read 0, not "No data", where nothing failed: one series per route with
        # traffic, and 0 for the routes that never answer 5xx.
        ratio_problems = 0
        routes = query(prom_port, 'count(sum by (http_route) (rate('
                       'http_server_request_duration_seconds_count{job="%s"}[1m])))' % JOB)
        n_routes = int(float(routes[0]["value"][1])) if routes else 0
        for where, promql in queries:
            if "Error ratio (5xx) by route" not in where:
                continue
            result = query(prom_port, promql)
            zeros = [r for r in result if float(r["value"][1]) == 0]
            if len(result) != n_routes or not zeros:
                print("FAIL: %s: %d series for %d routes, %d at 0" % (where, len(result),
                                                                      n_routes, len(zeros)))
                ratio_problems += 1
        return 1 if pending or ratio_problems else 0
    finally:
        for p in procs:
            p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                p.kill()
        for stop in stops:
            subprocess.run(stop, capture_output=True)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
