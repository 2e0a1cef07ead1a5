#!/usr/bin/env python3
"""Runs one program of examples/ the way its README snippet says, to completion, and checks what
it did. Under the sanitizer build the same runs fail on any report (the programs abort).

usage: run_example.py EXAMPLE --bin BUILD/examples [--pushgateway PATH]
       run_example.py --check-all --source examples --bin BUILD/examples

  quickstart    serves on 8080 (metrics on 9464) as printed: requests to each route and to a
                path no route matches, a scrape that shows them, then SIGTERM: exit 0
  demo_service  the demo with its load generator: runs until its metrics show load on every
                kind of route (and, with --grpc, on its gRPC service), then SIGTERM: exit 0
                ("demo service: stopped")
  dependencies  calls an upstream through HttplibClient and a circuit breaker until it opens
  nightly_job   pushes to a real Pushgateway, which then holds the job's metrics
  log_sink      the agent's warning reaches syslog (and stderr, LOG_PERROR)
  request_scope, product_cache, custom_metrics, grpc_service   run, exit 0

Programs that listen on fixed ports run in a network namespace of their own (root only; loopback
brought up), so a demo or a service already on 8080 or 9464 does not get in the way; without
root the run needs those ports free and says so.
"""
import argparse
import ctypes
import fcntl
import os
import re
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

DEADLINE = 90  # seconds for any one wait: far more than a run takes, under a sanitizer too


def fail(message, proc=None):
    print("FAIL: " + message)
    if proc is not None:
        try:
            proc.kill()
        except OSError:
            pass
        out, err = proc.communicate(timeout=10)
        print("--- stdout\n" + out + "\n--- stderr\n" + err)
    sys.exit(1)


def private_network():
    """Moves this process into a new network namespace with loopback up; False when refused."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.unshare(0x40000000) != 0:  # CLONE_NEWNET
        return False
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        request = struct.pack("16sH", b"lo", 0)
        flags = struct.unpack("16sH", fcntl.ioctl(s, 0x8913, request)[:18])[1]  # SIOCGIFFLAGS
        fcntl.ioctl(s, 0x8914, struct.pack("16sH", b"lo", flags | 0x1))  # SIOCSIFFLAGS, IFF_UP
    return True


def port_free(port):
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def fixed_ports(*ports):
    if private_network():
        return
    busy = [p for p in ports if not port_free(p)]
    if busy:
        fail(f"ports {busy} are in use and this run cannot have a network of its own (not "
             "root): stop what listens there")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http(method, url, body=None):
    """(status, body) of one request; status 0 when nothing answered."""
    request = urllib.request.Request(url, data=body, method=method)
    try:
        with urllib.request.urlopen(request, timeout=10) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()
    except (urllib.error.URLError, OSError):
        return 0, ""


def wait_for(what, check, proc=None):
    deadline = time.monotonic() + DEADLINE
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            fail(f"the program exited ({proc.returncode}) while waiting for {what}", proc)
        result = check()
        if result:
            return result
        time.sleep(0.05)
    fail(f"timed out waiting for {what}", proc)


def sample(body, series):
    """The value of the sample line `series` (name and labels exactly) in an exposition."""
    for line in body.split("\n"):
        if line.startswith(series + " "):
            return float(line.split(" ")[1])
    return None


def start(argv, env=None):
    full_env = dict(os.environ)
    full_env.update(env or {})
    return subprocess.Popen(argv, env=full_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def finish(proc, what):
    """Waits for the program to end by itself with exit code 0; returns (stdout, stderr)."""
    try:
        out, err = proc.communicate(timeout=DEADLINE)
    except subprocess.TimeoutExpired:
        fail(f"{what} did not end within {DEADLINE} s", proc)
    if proc.returncode != 0:
        print("--- stdout\n" + out + "\n--- stderr\n" + err)
        fail(f"{what} exited with {proc.returncode}")
    return out, err


def stop(proc, name):
    """SIGTERM, then the program must exit 0 by itself; returns (stdout, stderr)."""
    proc.send_signal(signal.SIGTERM)
    return finish(proc, f"{name}, after SIGTERM,")


def run_to_end(argv, env=None):
    return finish(start(argv, env), argv[0])


def route_count(body, method, route, status):
    return sample(body, "http_server_request_duration_seconds_count{http_request_method=\""
                  f"{method}\",http_route=\"{route}\",http_response_status_code=\"{status}\"}}")


def quickstart(args):
    fixed_ports(8080, 9464)
    proc = start([os.path.join(args.bin, "quickstart")])
    wait_for("the service on 8080", lambda: http("GET", "http://127.0.0.1:8080/users/7")[0], proc)
    status, body = http("GET", "http://127.0.0.1:8080/users/42")
    if (status, body) != (200, "user 42"):
        fail(f"GET /users/42 answered {status} {body!r}", proc)
    if http("POST", "http://127.0.0.1:8080/orders", b"{}")[0] != 201:
        fail("POST /orders did not answer 201", proc)
    if http("GET", "http://127.0.0.1:8080/no/such/page")[0] != 404:
        fail("an unknown path did not answer 404", proc)
    status, metrics = http("GET", "http://127.0.0.1:9464/metrics")
    if status != 200:
        fail(f"/metrics on 9464 answered {status}", proc)
    checks = {
        "the service's own counter": sample(metrics, 'orders_placed_total{channel="web"}') == 1,
        "GET /users/:id timed twice": route_count(metrics, "GET", "/users/:id", "200") == 2,
        "POST /orders timed": route_count(metrics, "POST", "/orders", "201") == 1,
        "the unknown path as unmatched": route_count(metrics, "GET", "unmatched", "404") == 1,
    }
    bad = [name for name, ok in checks.items() if not ok]
    if bad:
        print(metrics)
        fail("the scrape lacks " + ", ".join(bad), proc)
    stop(proc, "quickstart")
    print("ok: quickstart served, was scraped and stopped cleanly on SIGTERM")


def demo_service(args):
    fixed_ports(8080, 9464, 50051)
    proc = start([os.path.join(args.bin, "demo_service"), "--load-rps=200", "--outage-period=4"])
    wait_for("the demo's banner", lambda: http("GET", "http://127.0.0.1:8080/")[0] == 200, proc)
    kinds = {
        "requests": 'http_server_request_duration_seconds_count{http_request_method="GET",'
                    'http_route="/users/:id",http_response_status_code="200"}',
        "cache lookups": 'cache_gets_total{cache="products",result="hit"}',
        "database calls": "db_client_operation_duration_seconds_count",
        "outbound calls": "http_client_request_duration_seconds_count",
        "pool tasks": 'executor_completed_tasks_total{name="reports"}',
        "breaker calls": "resilience4j_circuitbreaker_calls_seconds_count",
        "explained slow statements": 'vitals_db_explains_total{db_system_name="sqlite",'
                                     'outcome="ok"}',
        "index candidates": 'vitals_db_index_candidates_total{db_system_name="sqlite",'
                            'db_namespace="",db_collection_name="accounts"}',
    }
    if args.grpc:  # built with gRPC: its service and the load's calls to it
        grpc = 'rpc_system_name="grpc",rpc_method="demo.Inventory/'
        kinds["gRPC calls"] = ('rpc_server_call_duration_seconds_count{' + grpc +
                               'GetStock",rpc_status_code="OK",error_type=""}')
        kinds["gRPC streams"] = 'rpc_server_responses_per_rpc_count{' + grpc + 'ListStock"}'
        kinds["gRPC client calls"] = 'rpc_client_call_duration_seconds_count{' + grpc + 'GetStock"'
        kinds["gRPC database calls"] = ('vitals_rpc_server_call_db_queries_sum{' + grpc +
                                        'GetStock"}')

    def loaded():
        status, metrics = http("GET", "http://127.0.0.1:9464/metrics")
        if status != 200:
            return False
        lines = metrics.split("\n")
        return all(any(l.startswith(prefix) and not l.endswith(" 0") for l in lines)
                   for prefix in kinds.values())

    wait_for("load on every kind of route (" + ", ".join(kinds) + ")", loaded, proc)
    out, _ = stop(proc, "demo_service")
    if "demo service: stopped" not in out:
        fail("the demo did not say it stopped:\n" + out)
    print("ok: the demo ran its load and stopped cleanly on SIGTERM")


def dependencies(args):
    out, _ = run_to_end([os.path.join(args.bin, "dependencies")],
                        {"VITALS_LISTEN": "127.0.0.1:0"})
    refused = re.search(r"calls refused by the open breaker: (\d+)", out)
    if not refused or int(refused.group(1)) == 0:
        fail("the breaker never opened:\n" + out)
    if 'resilience4j_circuitbreaker_state{name="inventory",state="open"} 1' not in out:
        fail("the breaker's state gauge does not say open:\n" + out)
    print("ok: dependencies opened its breaker after", refused.group(1), "refusals")


def nightly_job(args):
    port = free_port()
    with tempfile.TemporaryDirectory() as scratch:
        gateway = subprocess.Popen(
            # Debian's package persists to /var/lib/prometheus by default: keep this run's own.
            [args.pushgateway, f"--web.listen-address=127.0.0.1:{port}",
             "--persistence.file=" + os.path.join(scratch, "pushgateway.data")], cwd=scratch,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            url = f"http://127.0.0.1:{port}"
            wait_for("the Pushgateway", lambda: http("GET", url + "/-/ready")[0] == 200)
            run_to_end([os.path.join(args.bin, "nightly_job")], {"VITALS_PUSHGATEWAY_URL": url})
            _, held = http("GET", url + "/metrics")
            # The Pushgateway serves labels sorted by name.
            series = ('http_server_request_duration_seconds_count{http_request_method="POST",'
                      'http_response_status_code="200",http_route="/invoices/send",'
                      'instance="batch-7",job="nightly-invoices"}')
            if sample(held, series) != 3:
                fail("the Pushgateway does not hold the job's three timed steps:\n" + held)
        finally:
            gateway.terminate()
            gateway.wait(timeout=DEADLINE)
    print("ok: nightly_job pushed its metrics to a real Pushgateway")


def log_sink(args):
    _, err = run_to_end([os.path.join(args.bin, "log_sink")])
    lines = [l for l in err.split("\n") if re.match(r"log_sink\[\d+\]: ", l)]
    if len(lines) != 1 or "slow request" not in lines[0] or 'route="/reports/:id"' not in lines[0]:
        fail("want one syslog line for the slow request, got:\n" + err)
    print("ok: the agent's warning went through the sink to syslog")


def plain(name):
    def run(args):
        run_to_end([os.path.join(args.bin, name)], {"VITALS_LISTEN": "127.0.0.1:0"})
        print(f"ok: {name} ran to completion")
    return run


CASES = {
    "quickstart": quickstart,
    "demo_service": demo_service,
    "dependencies": dependencies,
    "nightly_job": nightly_job,
    "log_sink": log_sink,
    "request_scope": plain("request_scope"),
    "product_cache": plain("product_cache"),
    "custom_metrics": plain("custom_metrics"),
    "grpc_service": plain("grpc_service"),
}


def check_all(args):
    """Every .cc of examples/ with a main() has a case here (and so a ctest that runs it)."""
    programs = sorted(f[:-3] for f in os.listdir(args.source) if f.endswith(".cc") and
                      re.search(r"^int main\(", open(os.path.join(args.source, f)).read(), re.M))
    missing = [p for p in programs if p not in CASES]
    if missing or not programs:
        fail(f"programs of examples/ that no run covers: {missing}")
    print("ok: every program of examples/ has a run:", ", ".join(programs))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("example", nargs="?", choices=sorted(CASES))
    parser.add_argument("--bin", required=True, help="the build's examples directory")
    parser.add_argument("--source", help="examples/ (with --check-all)")
    parser.add_argument("--check-all", action="store_true")
    parser.add_argument("--pushgateway", default="prometheus-pushgateway")
    parser.add_argument("--grpc", action="store_true", help="the demo was built with gRPC")
    args = parser.parse_args()
    if args.check_all:
        check_all(args)
    else:
        CASES[args.example](args)


if __name__ == "__main__":
    main()
