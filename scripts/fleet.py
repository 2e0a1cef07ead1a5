#!/usr/bin/env python3
"""A fleet of demo instances on Prometheus itself.

N demo services (each its own agent: VITALS_SERVICE_INSTANCE_ID demo-<i>, a service version),
a Prometheus in agent mode that finds them through file_sd and remote-writes everything it
scrapes to a central Prometheus (--web.enable-remote-write-receiver) that loads the shipped
recording and alerting rules (dashboards/rules/). `scripts/demo --fleet N` runs it until Ctrl-C;
dashboards/tests/fleet_test.py drives it (stopping and restarting instances).

usage: fleet.py DEMO_BINARY N [--interval 5s] [--load-rps 20]
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
JOB = "vitals-demo"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Fleet:
    """Starts and stops the parts; ports are fixed for the fleet's life, so an instance
    restarted keeps its target (its `instance` label)."""

    def __init__(self, demo_bin, instances, work, interval="5s", load_rps=20, env=None,
                 demo_args=None):
        self.demo_bin = demo_bin
        self.work = work
        self.interval = interval
        self.load_rps = load_rps
        self.env = dict(env or {})
        self.demo_args = list(demo_args or [])
        self.metrics_ports = [free_port() for _ in range(instances)]
        self.demos = [None] * instances
        self.agent_port = free_port()
        self.central_port = free_port()
        self.prometheus = []

    def target(self, i):
        return "127.0.0.1:%d" % self.metrics_ports[i]

    def start_instance(self, i, version="1.0.0"):
        env = dict(os.environ)
        env.update({"VITALS_LISTEN": self.target(i), "VITALS_SERVICE_VERSION": version,
                    "VITALS_SERVICE_INSTANCE_ID": "demo-%d" % (i + 1),
                    "VITALS_SAMPLE_INTERVAL": self.interval})
        env.update(self.env)
        log = open(os.path.join(self.work, "demo-%d.log" % (i + 1)), "a")
        self.demos[i] = subprocess.Popen(
            [self.demo_bin, "--port=0", "--grpc-port=0", "--load-rps=%s" % self.load_rps] +
            self.demo_args,
            env=env, stdout=log, stderr=subprocess.STDOUT)

    def stop_instance(self, i):
        p = self.demos[i]
        if p is None:
            return
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(timeout=15)
        except subprocess.TimeoutExpired:
            p.kill()
        self.demos[i] = None

    def _prometheus(self, name, port, config, flags):
        path = os.path.join(self.work, name + ".yml")
        with open(path, "w") as f:
            f.write(config)
        log = open(os.path.join(self.work, name + ".log"), "w")
        self.prometheus.append(subprocess.Popen(
            ["prometheus", "--config.file=" + path,
             "--web.listen-address=127.0.0.1:%d" % port] + flags,
            stdout=log, stderr=subprocess.STDOUT))

    def start(self):
        for i in range(len(self.metrics_ports)):
            self.start_instance(i)
        targets = os.path.join(self.work, "targets.json")
        with open(targets, "w") as f:
            json.dump([{"targets": [self.target(i) for i in range(len(self.metrics_ports))],
                        "labels": {}}], f)
        rules = os.path.join(self.work, "rules")
        shutil.copytree(os.path.join(ROOT, "dashboards", "rules"), rules, dirs_exist_ok=True)
        self._prometheus(
            "central", self.central_port,
            "global:\n  evaluation_interval: %s\nrule_files:\n  - %s/*.yml\n"
            % (self.interval, rules),
            ["--storage.tsdb.path=" + os.path.join(self.work, "central-data"),
             "--web.enable-remote-write-receiver"])
        self._prometheus(
            "agent", self.agent_port,
            "global:\n  scrape_interval: %s\nscrape_configs:\n  - job_name: %s\n"
            "    file_sd_configs:\n      - files: ['%s']\n        refresh_interval: 5s\n"
            "remote_write:\n  - url: http://127.0.0.1:%d/api/v1/write\n"
            "    queue_config:\n      batch_send_deadline: 1s\n"
            % (self.interval, JOB, targets, self.central_port),
            ["--enable-feature=agent",
             "--storage.agent.path=" + os.path.join(self.work, "agent-data")])

    def stop(self):
        for i in range(len(self.demos)):
            self.stop_instance(i)
        for p in self.prometheus:
            p.send_signal(signal.SIGTERM)
        for p in self.prometheus:
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                p.kill()
        self.prometheus = []


def main():
    if len(sys.argv) < 3:
        print(__doc__)
        return 2
    args = sys.argv[1:]
    interval = args[args.index("--interval") + 1] if "--interval" in args else "5s"
    rps = args[args.index("--load-rps") + 1] if "--load-rps" in args else "20"
    work = tempfile.mkdtemp(prefix="vitals-fleet-")
    fleet = Fleet(args[0], int(args[1]), work, interval=interval, load_rps=rps)
    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(1))
    try:
        fleet.start()
        print("fleet:        %d demo instances, metrics on %s" % (
            len(fleet.metrics_ports), ", ".join(fleet.target(i) for i in range(len(fleet.demos)))))
        print("agent:        http://127.0.0.1:%d/  (Prometheus in agent mode: scrapes them, "
              "remote-writes everything)" % fleet.agent_port)
        print("central:      http://127.0.0.1:%d/graph  (the store, with the rules loaded)"
              % fleet.central_port)
        print("  try:        count by (service_version) (target_info)")
        print("logs:         %s" % work)
        print("Ctrl-C stops everything.")
        sys.stdout.flush()
        while not stopping:
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        fleet.stop()
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
