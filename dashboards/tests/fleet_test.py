#!/usr/bin/env python3
"""The dashboards and rules on a fleet, through Prometheus' own fleet machinery.

Starts scripts/fleet.py's fleet: 4 demo instances, a Prometheus in agent mode that finds them
through file_sd and remote-writes to a central Prometheus that evaluates dashboards/rules/.
Then, all against the central store:
  - every query of every dashboard and every recording rule returns data (the queries of a
    native histogram excepted: remote write here carries the classic buckets, and
    contract_test.py checks those queries against a native-histogram Prometheus),
  - target_info has the 4 instances, and the Fleet dashboard counts them,
  - each job-level recording rule equals the sum over instances of what it records, computed
    at the rule's own evaluation time,
  - one instance stopped: the shipped VitalsTargetDown fires for it in the central store and
    its series go stale there,
  - restarted with service_version 2.0.0: the central store shows two versions running.

usage: fleet_test.py DEMO_BINARY [--preload LIBTCMALLOC]
"""

import os
import shutil
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "..", "scripts"))

import contract_test  # noqa: E402  (the shared query helpers)
from fleet import Fleet, JOB  # noqa: E402

INSTANCES = 4


def wait_for(what, fn, seconds):
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            if fn():
                return True
        except OSError:
            pass
        time.sleep(1)
    print("FAIL: %s (waited %d s)" % (what, seconds))
    return False


def value(port, promql, at=None):
    params = {"query": promql}
    if at is not None:
        params["time"] = at
    result = contract_test.api(port, "query", params)["result"]
    return float(result[0]["value"][1]) if result else None


def own_metrics(port):
    """A Prometheus server's own metrics, summed by name (labels dropped)."""
    out = {}
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=10) as r:
        for line in r.read().decode().split("\n"):
            if not line or line.startswith("#"):
                continue
            name = line.split("{")[0].split(" ")[0]
            try:
                out[name] = out.get(name, 0) + float(line.rsplit(" ", 1)[1])
            except ValueError:
                pass
    return out


def main():
    if len(sys.argv) < 2:
        print(__doc__)
        return 2
    demo_bin = sys.argv[1]
    preload = sys.argv[sys.argv.index("--preload") + 1] if "--preload" in sys.argv else None
    work = tempfile.mkdtemp(prefix="vitals-fleet-test-")
    env = {"VITALS_HEAP_GROWTH_WINDOW": "20s"}
    if preload:
        env["LD_PRELOAD"] = preload
    fleet = Fleet(demo_bin, INSTANCES, work, interval="1s", load_rps=40, env=env,
                  demo_args=["--cache-entries=110", "--outage-period=20"])
    failures = []
    try:
        fleet.start()
        central = fleet.central_port
        if not wait_for("all %d instances up in the central store" % INSTANCES,
                        lambda: value(central, 'count(up{job="%s"} == 1)' % JOB) == INSTANCES,
                        90):
            return 1
        time.sleep(contract_test.SETTLE_SECONDS)

        # Every dashboard query and recording rule has data in the central store.
        wanted = [(where, q) for where, q in contract_test.collect()
                  if not contract_test.NATIVE.search(q)]
        pending = list(wanted)
        deadline = time.time() + contract_test.RETRY_SECONDS
        while pending and time.time() < deadline:
            pending = [(w, q) for w, q in pending if not contract_test.query(central, q)]
            if pending:
                time.sleep(2)
        for where, q in pending:
            failures.append("empty in the central store: %s\n      %s" % (where, q))
        print("%d dashboard and rule queries against the central store, %d empty"
              % (len(wanted), len(pending)))

        if value(central, 'count(target_info{job="%s"})' % JOB) != INSTANCES:
            failures.append("target_info does not have the %d instances" % INSTANCES)

        # Job-level rules: equal to the sum over instances at the rule's evaluation time.
        for rule, expr in [
                ("job_route:http_server_requests:rate5m",
                 'sum by (job, http_route) (rate(http_server_request_duration_seconds_count[5m]))'),
                ("job_cache:cache_gets:rate5m",
                 'sum by (job, cache) (rate(cache_gets_total[5m]))')]:
            # The sample's own time (an instant query answers at the query's time).
            recorded = contract_test.query(central, "timestamp(%s{job=\"%s\"})" % (rule, JOB))
            if not recorded:
                failures.append("no %s in the central store" % rule)
                continue
            compared = 0
            for r in recorded:
                at = float(r["value"][1])
                labels = {k: v for k, v in r["metric"].items() if k != "__name__"}
                selector = ",".join('%s="%s"' % (k, v) for k, v in sorted(labels.items()))
                got = value(central, "%s{%s}" % (rule, selector), at=at)
                # Within one scrape: the rule ran when the last remote-written sample may not
                # have arrived yet, so it may equal the sum one scrape earlier.
                wants = []
                for back in (0, 1, 2):
                    series = contract_test.api(central, "query",
                                               {"query": expr, "time": at - back})["result"]
                    wants += [float(s["value"][1]) for s in series
                              if all(s["metric"].get(k) == v for k, v in labels.items())]
                if got is None or not wants:
                    failures.append("%s{%s}: no value or no sum over instances" % (rule, selector))
                    continue
                low, high = min(wants), max(wants)
                if not (low - 1e-6 * max(1.0, abs(low)) <= got <= high + 1e-6 * max(1.0, abs(high))):
                    failures.append("%s{%s} = %g at %.3f; the sum over instances then and one "
                                    "scrape before: %s" % (rule, selector, got, at, wants))
                compared += 1
            print("%s: %d series equal the sum over instances" % (rule, compared))

        # What a fleet costs (printed for docs/fleet.md; never asserted): series per instance
        # as the agent counts them, and what the agent-mode Prometheus sends.
        measures = [
            ("series per instance (vitals_series, mean)",
             central, 'avg(sum by (instance) (vitals_series{job="%s"}))' % JOB),
            ("series per instance (as scraped: scrape_samples_scraped, mean)",
             central, 'avg(scrape_samples_scraped{job="%s"})' % JOB),
            ("of which histogram buckets (mean)",
             central, 'avg(count by (instance) ({job="%s",__name__=~".+_bucket"}))' % JOB),
        ]
        for what, port, q in measures:
            print("measured: %s: %s (%s)" % (what, value(port, q), q))
        # The agent-mode Prometheus has no query API: its own counters from its /metrics, 10 s
        # apart; the central store's figures from its /metrics (it does not scrape itself).
        sent = [own_metrics(fleet.agent_port)]
        time.sleep(10)
        sent.append(own_metrics(fleet.agent_port))
        for name in ("prometheus_remote_storage_samples_total",
                     "prometheus_remote_storage_bytes_total"):
            print("measured: agent sends %s: %.0f per second for %d instances"
                  % (name, (sent[1].get(name, 0) - sent[0].get(name, 0)) / 10, INSTANCES))
        for name, v in sorted(own_metrics(central).items()):
            if name in ("prometheus_tsdb_head_series", "process_resident_memory_bytes",
                        "go_memstats_heap_inuse_bytes"):
                print("measured: central store %s %.0f" % (name, v))

        # One instance stopped: VitalsTargetDown fires for it, and its series go stale.
        down = fleet.target(1)
        fleet.stop_instance(1)
        stopped = time.time()
        if not wait_for("the stopped instance's series go stale in the central store",
                        lambda: not contract_test.query(
                            central, 'http_server_request_duration_seconds_count{instance="%s"}'
                            % down), 60):
            failures.append("series of the stopped instance did not go stale")
        if not wait_for("VitalsTargetDown firing for %s in the central store" % down,
                        lambda: contract_test.query(
                            central, 'ALERTS{alertname="VitalsTargetDown",alertstate="firing",'
                            'instance="%s"}' % down), 200):
            failures.append("VitalsTargetDown did not fire for the stopped instance")
        else:
            print("VitalsTargetDown fired %.0f s after the stop" % (time.time() - stopped))

        # Restarted with a new version: the fleet view shows two versions.
        fleet.start_instance(1, version="2.0.0")
        if not wait_for("the restarted instance's target_info with service_version 2.0.0",
                        lambda: contract_test.query(
                            central, 'target_info{instance="%s",service_version="2.0.0"}' % down),
                        60):
            failures.append("the new version did not reach the central store")
        versions = 'count(count by (service_version) (target_info{job=~"%s"}))' % JOB
        if not wait_for("the Fleet dashboard's Versions running to read 2",
                        lambda: value(central, versions) == 2, 60):
            failures.append("Versions running did not read 2")
    finally:
        fleet.stop()
        shutil.rmtree(work, ignore_errors=True)
    for f in failures:
        print("FAIL:", f)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
