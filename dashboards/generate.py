#!/usr/bin/env python3
"""Writes the Grafana dashboards of the vitals mixin (dashboards/grafana/*.json).

The dashboards are data: this script is their single source, so ids, grid positions, datasource
references and links are consistent by construction. Edit here, then run

    dashboards/generate.py          # rewrite the JSON files
    dashboards/generate.py --check  # exit 1 if the JSON files differ from what this writes

The tests (dashboards/tests/) check the JSON structurally and run every query against a real
Prometheus scraping the demo.
"""

import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "grafana")
DS = {"type": "prometheus", "uid": "${datasource}"}
SEL = 'job=~"$job",instance=~"$instance"'
SEL_ROUTE = SEL + ',http_route=~"$route"'
SEL_CACHE = SEL + ',cache=~"$cache"'
SEL_RPC = SEL + ',rpc_method=~"$rpc_method"'

UIDS = {
    "overview": "vitals-service-overview",
    "memory": "vitals-memory-process",
    "caches": "vitals-caches",
    "database": "vitals-database",
    "dependencies": "vitals-dependencies",
    "fleet": "vitals-fleet",
}
TITLES = {
    "overview": "vitals / Service overview",
    "memory": "vitals / Memory and process",
    "caches": "vitals / Caches",
    "database": "vitals / Database",
    "dependencies": "vitals / Dependencies",
    "fleet": "vitals / Fleet",
}


def target(expr, legend="", ref="A", instant=False, fmt=None, exemplar=False):
    t = {"datasource": DS, "refId": ref, "expr": expr, "legendFormat": legend}
    if instant:
        t["instant"] = True
        t["range"] = False
    if fmt:
        t["format"] = fmt
    if exemplar:
        # Grafana draws the exemplars of the query's series (trace ids of requests in those
        # buckets) when the data source has them: Prometheus with exemplar storage on.
        t["exemplar"] = True
    return t


def link_to(key, title=None):
    return {
        "title": title or ("Open " + TITLES[key]),
        "url": "/d/%s?${__url_time_range}&var-datasource=${datasource}&var-job=${job}"
               "&var-instance=${instance}" % UIDS[key],
    }


class Layout:
    """Places panels left to right on Grafana's 24-column grid; a row starts a new line."""

    def __init__(self):
        self.x, self.y, self.row_h, self.next_id = 0, 0, 0, 1

    def row(self, title):
        """A row header (Grafana's "row" panel, expanded) on a line of its own."""
        if self.x > 0:
            self.x, self.y, self.row_h = 0, self.y + self.row_h, 0
        return self.place({"type": "row", "title": title, "collapsed": False, "panels": []},
                          24, 1)

    def place(self, panel, w, h):
        if self.x + w > 24:
            self.x, self.y, self.row_h = 0, self.y + self.row_h, 0
        panel["id"] = self.next_id
        panel["gridPos"] = {"h": h, "w": w, "x": self.x, "y": self.y}
        self.next_id += 1
        self.x += w
        self.row_h = max(self.row_h, h)
        return panel


def timeseries(title, description, unit, targets, links=(), stack=False, min0=True):
    custom = {"drawStyle": "line", "lineWidth": 1, "fillOpacity": 10, "showPoints": "never"}
    if stack:
        custom["stacking"] = {"mode": "normal", "group": "A"}
    defaults = {"unit": unit, "custom": custom}
    if min0:
        defaults["min"] = 0
    return {
        "type": "timeseries",
        "title": title,
        "description": description,
        "datasource": DS,
        "targets": list(targets),
        "fieldConfig": {"defaults": defaults, "overrides": []},
        "options": {"legend": {"displayMode": "table", "placement": "bottom",
                               "calcs": ["mean", "max", "lastNotNull"]},
                    "tooltip": {"mode": "multi", "sort": "desc"}},
        "links": list(links),
    }


def heatmap(title, description, unit, expr):
    """A heatmap of a native histogram: Grafana reads its buckets as they are (no calculation)."""
    return {
        "type": "heatmap",
        "title": title,
        "description": description,
        "datasource": DS,
        "targets": [target(expr, "{{le}}", fmt="heatmap")],
        "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
        "options": {"calculate": False, "yAxis": {"unit": unit, "axisPlacement": "left"},
                    "color": {"mode": "scheme", "scheme": "Oranges", "scale": "exponential"},
                    "cellGap": 1, "tooltip": {"show": True, "yHistogram": True},
                    "exemplars": {"color": "rgba(255,0,255,0.7)"}},
        "links": [],
    }


def stat(title, description, unit, expr, thresholds=None, links=()):
    steps = [{"color": "green", "value": None}]
    for color, value in thresholds or []:
        steps.append({"color": color, "value": value})
    return {
        "type": "stat",
        "title": title,
        "description": description,
        "datasource": DS,
        "targets": [target(expr, instant=True)],
        "fieldConfig": {"defaults": {"unit": unit,
                                     "thresholds": {"mode": "absolute", "steps": steps}},
                        "overrides": []},
        "options": {"reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
                    "colorMode": "value", "graphMode": "area"},
        "links": list(links),
    }


def table(title, description, unit, expr, links=(), value_name="p99"):
    return {
        "type": "table",
        "title": title,
        "description": description,
        "datasource": DS,
        "targets": [target(expr, instant=True, fmt="table")],
        "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
        "options": {"showHeader": True, "sortBy": [{"displayName": "Value", "desc": True}]},
        "transformations": [{"id": "organize", "options": {
            "excludeByName": {"Time": True, "__name__": True},
            "renameByName": {"Value": value_name}}}],
        "links": list(links),
    }


def variable(name, label, query, multi=True):
    return {
        "type": "query",
        "name": name,
        "label": label,
        "datasource": DS,
        "query": {"query": query, "refId": "PrometheusVariableQueryEditor-VariableQuery"},
        "definition": query,
        "refresh": 2,
        "includeAll": True,
        "allValue": ".*",
        "multi": multi,
        "sort": 1,
        "current": {"selected": True, "text": ["All"], "value": ["$__all"]},
    }


def templating(extra=()):
    return {"list": [
        {"type": "datasource", "name": "datasource", "label": "Data source",
         "query": "prometheus", "current": {}, "hide": 0},
        variable("job", "Job", "label_values(vitals_build_info, job)"),
        variable("instance", "Instance", 'label_values(vitals_build_info{job=~"$job"}, instance)'),
    ] + list(extra)}


def dashboard(key, description, panels, extra_vars=()):
    return {
        "uid": UIDS[key],
        "title": TITLES[key],
        "description": description,
        "tags": ["vitals"],
        "timezone": "browser",
        "editable": True,
        "graphTooltip": 1,
        "schemaVersion": 39,
        "version": 1,
        "refresh": "30s",
        "time": {"from": "now-1h", "to": "now"},
        "templating": templating(extra_vars),
        "annotations": {"list": []},
        "links": [{"type": "dashboards", "tags": ["vitals"], "asDropdown": False,
                   "title": "vitals dashboards", "includeVars": True, "keepTime": True}],
        "panels": panels,
    }


def overview():
    L = Layout()
    rate = "$__rate_interval"
    p = []
    p.append(L.place(stat(
        "Request rate", "Requests per second over all selected routes.", "reqps",
        'sum(rate(http_server_request_duration_seconds_count{%s}[%s]))' % (SEL_ROUTE, rate)), 6, 4))
    p.append(L.place(stat(
        "Error ratio (5xx)", "Share of requests answered with a 5xx status. Above a few percent, "
        "look at the per-route panel below and at the service's logs.", "percentunit",
        # "or vector(0)": 0 rather than "No data" while no request has failed.
        '(sum(rate(http_server_request_duration_seconds_count{%s,http_response_status_code=~"5.."}'
        '[%s])) or vector(0)) / sum(rate(http_server_request_duration_seconds_count{%s}[%s]))'
        % (SEL_ROUTE, rate, SEL_ROUTE, rate), [("orange", 0.01), ("red", 0.05)]), 6, 4))
    p.append(L.place(stat(
        "p99 latency", "99th percentile request duration over all selected routes, from the "
        "histogram buckets.", "s",
        'histogram_quantile(0.99, sum by (le) (rate(http_server_request_duration_seconds_bucket'
        '{%s}[%s])))' % (SEL_ROUTE, rate), [("orange", 0.5), ("red", 1)]), 6, 4))
    p.append(L.place(stat(
        "Active requests", "Requests being handled right now. A climbing number with a flat "
        "request rate means requests are getting stuck.", "short",
        'sum(http_server_active_requests{%s})' % SEL_ROUTE), 6, 4))
    p.append(L.place(timeseries(
        "Request rate by route", "Requests per second per route template. Unmatched requests "
        "(404s for unknown paths) share the route \"unmatched\".", "reqps",
        [target('sum by (http_route) (rate(http_server_request_duration_seconds_count{%s}[%s]))'
                % (SEL_ROUTE, rate), "{{http_route}}")]), 12, 8))
    p.append(L.place(timeseries(
        "Error ratio (5xx) by route", "Share of each route's requests that failed with 5xx. "
        "A single route going up points at its backend.", "percentunit",
        # Routes without a 5xx get 0 (the "or" side: their request rate times 0), not a gap.
        [target('(sum by (http_route) (rate(http_server_request_duration_seconds_count{%s,'
                'http_response_status_code=~"5.."}[%s])) or 0 * sum by (http_route) (rate('
                'http_server_request_duration_seconds_count{%s}[%s]))) / sum by (http_route) '
                '(rate(http_server_request_duration_seconds_count{%s}[%s]))'
                % (SEL_ROUTE, rate, SEL_ROUTE, rate, SEL_ROUTE, rate), "{{http_route}}")]), 12, 8))
    p.append(L.place(timeseries(
        "Latency p50 / p90 / p99 by route", "Quantiles estimated from the request duration "
        "histogram (bucket bounds limit their precision). Compare p99 with p50: a wide gap is "
        "a slow tail, a shift of both is a slower route. Dots are exemplars: one traced request "
        "per bucket (W3C traceparent), shown when Prometheus runs with "
        "--enable-feature=exemplar-storage; link trace_id to your tracing data source to open "
        "the trace.", "s",
        [target('histogram_quantile(%s, sum by (http_route, le) (rate('
                'http_server_request_duration_seconds_bucket{%s}[%s])))' % (q, SEL_ROUTE, rate),
                "p%s {{http_route}}" % str(int(float(q) * 100)), ref, exemplar=True)
         for q, ref in (("0.5", "A"), ("0.9", "B"), ("0.99", "C"))]), 24, 9))
    p.append(L.place(heatmap(
        "Latency distribution (native histogram)", "Every request's duration over time, from "
        "the native histogram: 8 buckets per power of two, no bucket bounds to choose. Needs "
        "VITALS_NATIVE_HISTOGRAMS=true on the service and a Prometheus started with "
        "--enable-feature=native-histograms (empty otherwise; see the README).", "s",
        'sum(rate(http_server_request_duration_seconds{%s}[%s]))' % (SEL_ROUTE, rate)), 24, 9))
    p.append(L.place(timeseries(
        "Active requests by route", "In-flight requests per route.", "short",
        [target('sum by (http_route) (http_server_active_requests{%s})' % SEL_ROUTE, "{{http_route}}")]),
        12, 8))
    p.append(L.place(timeseries(
        "Slow requests per second", "Requests at or above the agent's slow threshold "
        "(VITALS_SLOW_REQUEST_THRESHOLD, default 1 s); each also logged one warning.", "reqps",
        [target('sum by (http_route) (rate(http_server_slow_requests_total{%s}[%s]))'
                % (SEL_ROUTE, rate), "{{http_route}}")]), 12, 8))
    p.append(L.place(timeseries(
        "Where the time goes, by route", "Seconds per second each route spent in database "
        "calls (db), outbound calls (outbound) and its own code (self); calls that overlap "
        "count once. Divide by the request rate for the time per request. A route whose db or "
        "outbound share dominates waits on its dependencies; see the sequential-calls panel "
        "for calls that could overlap.", "s",
        [target('sum by (http_route, part) (rate(vitals_http_server_request_time_seconds_total'
                '{%s}[%s]))' % (SEL_ROUTE, rate), "{{http_route}} {{part}}")], stack=True), 12, 8))
    p.append(L.place(timeseries(
        "Requests with sequential calls", "Requests per second that made several database or "
        "outbound calls one after another, none overlapping, taking at least "
        "VITALS_SEQUENTIAL_CALLS_PERCENT (50%) of the request: candidates for running those "
        "calls concurrently. The service logs each route's calls once a minute.", "reqps",
        [target('sum by (http_route) (rate(vitals_http_server_sequential_calls_total{%s}[%s]))'
                % (SEL_ROUTE, rate), "{{http_route}}")]), 12, 8))
    p.append(L.place(table(
        "Slowest routes (p99, last 5 minutes)", "Routes ranked by their 99th percentile "
        "duration over the last 5 minutes (computed here, so it needs no recording rule).", "s",
        'topk(10, histogram_quantile(0.99, sum by (job, http_route, le) (rate('
        'http_server_request_duration_seconds_bucket{%s}[5m]))))' % SEL_ROUTE,
        [link_to("memory"), link_to("caches"), link_to("database")]), 24, 8))
    p.extend(rpc_panels(L))
    route_var = variable("route", "Route", 'label_values(http_server_request_duration_seconds_count'
                         '{job=~"$job",instance=~"$instance"}, http_route)')
    rpc_var = variable("rpc_method", "RPC method", 'label_values(rpc_server_call_duration_seconds_'
                       'count{job=~"$job",instance=~"$instance"}, rpc_method)')
    return dashboard("overview", "Requests through the vitals agent: rate, errors, latency, "
                     "in-flight and slow requests per route, and the same per RPC method of a "
                     "gRPC (or other RPC) server.", p, [route_var, rpc_var])


def rpc_panels(L):
    """The overview's RPC row: a gRPC server's calls per method (vitals/grpc.h, vitals/rpc.h),
    and the calls it makes per target."""
    rate = "$__rate_interval"
    calls = "rpc_server_call_duration_seconds"
    p = [L.row("RPC calls (gRPC)")]
    p.append(L.place(timeseries(
        "RPC calls by method and status", "Calls per second the service served, by RPC method "
        "and final status code (OK, INVALID_ARGUMENT, DEADLINE_EXCEEDED, ...). A stream counts "
        "once, when it ends.", "reqps",
        [target('sum by (rpc_method, rpc_status_code) (rate(%s_count{%s}[%s]))'
                % (calls, SEL_RPC, rate), "{{rpc_method}} {{rpc_status_code}}")]), 12, 8))
    p.append(L.place(timeseries(
        "RPC error ratio by method", "Share of each method's calls that ended with a code that "
        "means the server failed (UNKNOWN, DEADLINE_EXCEEDED, UNIMPLEMENTED, INTERNAL, "
        "UNAVAILABLE, DATA_LOSS: the calls with an error_type). The client's own errors "
        "(INVALID_ARGUMENT, NOT_FOUND, ...) are not counted here.", "percentunit",
        [target('(sum by (rpc_method) (rate(%s_count{%s,error_type!=""}[%s])) or 0 * sum by '
                '(rpc_method) (rate(%s_count{%s}[%s]))) / sum by (rpc_method) (rate(%s_count{%s}'
                '[%s]))' % (calls, SEL_RPC, rate, calls, SEL_RPC, rate, calls, SEL_RPC, rate),
                "{{rpc_method}}")]), 12, 8))
    p.append(L.place(timeseries(
        "RPC latency p50 / p99 by method", "Quantiles of the call duration (a stream's whole "
        "life) from the histogram buckets. Dots are exemplars from the callers' traceparent "
        "metadata.", "s",
        [target('histogram_quantile(%s, sum by (rpc_method, le) (rate(%s_bucket{%s}[%s])))'
                % (q, calls, SEL_RPC, rate), "p%s {{rpc_method}}" % n, ref, exemplar=True)
         for q, n, ref in (("0.5", "50", "A"), ("0.99", "99", "B"))]), 12, 8))
    p.append(L.place(timeseries(
        "RPC calls in flight and started", "Calls being served right now, and calls started "
        "per second. In flight climbing while starts stay flat means calls are getting stuck.",
        "short",
        [target('sum by (rpc_method) (vitals_rpc_server_active_calls{%s})' % SEL_RPC,
                "in flight {{rpc_method}}", "A"),
         target('sum by (rpc_method) (rate(vitals_rpc_server_calls_started_total{%s}[%s]))'
                % (SEL_RPC, rate), "started/s {{rpc_method}}", "B")]), 12, 8))
    p.append(L.place(timeseries(
        "RPC messages per call and bytes per second", "Mean messages each call received and "
        "sent (1 and 1 for a unary call), and the bytes per second of serialized messages each "
        "way.", "short",
        [target('sum by (rpc_method) (rate(rpc_server_requests_per_rpc_sum{%s}[%s])) / sum by '
                '(rpc_method) (rate(rpc_server_requests_per_rpc_count{%s}[%s]))'
                % (SEL_RPC, rate, SEL_RPC, rate), "received per call {{rpc_method}}", "A"),
         target('sum by (rpc_method) (rate(rpc_server_responses_per_rpc_sum{%s}[%s])) / sum by '
                '(rpc_method) (rate(rpc_server_responses_per_rpc_count{%s}[%s]))'
                % (SEL_RPC, rate, SEL_RPC, rate), "sent per call {{rpc_method}}", "B"),
         target('sum by (rpc_method) (rate(rpc_server_request_size_bytes_sum{%s}[%s]))'
                % (SEL_RPC, rate), "bytes/s in {{rpc_method}}", "C"),
         target('sum by (rpc_method) (rate(rpc_server_response_size_bytes_sum{%s}[%s]))'
                % (SEL_RPC, rate), "bytes/s out {{rpc_method}}", "D")]), 12, 8))
    p.append(L.place(timeseries(
        "Where RPC time goes, by method", "Seconds per second each method spent in database "
        "calls (db), outbound calls (outbound, gRPC client calls included) and its own code "
        "(self), as for HTTP routes.", "s",
        [target('sum by (rpc_method, part) (rate(vitals_rpc_server_call_time_seconds_total{%s}'
                '[%s]))' % (SEL_RPC, rate), "{{rpc_method}} {{part}}")], stack=True), 12, 8))
    p.append(L.place(timeseries(
        "RPC client calls by target", "Calls per second this service made to gRPC servers, by "
        "target and status code; every code but OK counts as an error on the client side.",
        "reqps",
        [target('sum by (server_address, server_port, rpc_status_code) (rate('
                'rpc_client_call_duration_seconds_count{%s}[%s]))' % (SEL, rate),
                "{{server_address}}:{{server_port}} {{rpc_status_code}}")],
        links=[link_to("dependencies")]), 24, 8))
    return p


def memory():
    L = Layout()
    rate = "$__rate_interval"
    p = []
    p.append(L.place(timeseries(
        "Resident memory, heap allocated and heap reserved", "RSS is what the kernel charges; "
        "heap allocated is what the application holds through malloc; heap reserved is what "
        "the allocator took from the system. RSS far above reserved points at non-heap memory "
        "(thread stacks, mmaps); reserved far above allocated at fragmentation or caching in "
        "the allocator.", "bytes",
        [target('process_resident_memory_bytes{%s}' % SEL, "RSS {{instance}}", "A"),
         target('process_heap_bytes{%s}' % SEL, "heap allocated {{instance}}", "B"),
         target('vitals_heap_reserved_bytes{%s}' % SEL, "heap reserved {{instance}} "
                "({{allocator}})", "C")]), 24, 9))
    p.append(L.place(timeseries(
        "Heap growth trend", "Least-squares slope of the allocated heap over the agent's "
        "window (VITALS_HEAP_GROWTH_WINDOW). A line that stays above zero is the signature of "
        "a leak; allocate-and-free workloads hover around zero.", "Bps",
        [target('vitals_heap_growth_bytes_per_second{%s}' % SEL, "{{instance}}")],
        min0=False), 12, 8))
    p.append(L.place(timeseries(
        "Allocator breakdown", "Where the allocator's memory is: free and mapped (reusable), "
        "returned to the system (unmapped), parked in per-thread caches. Unmapped and thread "
        "cache are reported by tcmalloc only.", "bytes",
        [target('vitals_heap_free_bytes{%s}' % SEL, "free {{instance}}", "A"),
         target('vitals_heap_unmapped_bytes{%s}' % SEL, "unmapped {{instance}}", "B"),
         target('vitals_heap_thread_cache_bytes{%s}' % SEL, "thread caches {{instance}}", "C")]),
        12, 8))
    p.append(L.place(timeseries(
        "CPU", "CPU time used per second of wall time: 100% is one full core, 200% two.",
        "percentunit",
        [target('rate(process_cpu_seconds_total{%s}[%s])' % (SEL, rate), "{{instance}}")]),
        8, 8))
    p.append(L.place(timeseries(
        "Threads", "OS threads of the process. Steady growth means threads are created and "
        "never joined.", "short",
        [target('process_threads{%s}' % SEL, "{{instance}}")]), 8, 8))
    p.append(L.place(timeseries(
        "File descriptors", "Open descriptors against the soft limit. Near the limit, "
        "accept() and open() start failing.", "short",
        [target('process_open_fds{%s}' % SEL, "open {{instance}}", "A"),
         target('process_max_fds{%s}' % SEL, "limit {{instance}}", "B")]), 8, 8))
    p.append(L.place(timeseries(
        "Sampler errors", "Failed reads of /proc or the allocator by source; the affected "
        "figure keeps its last value meanwhile.", "short",
        [target('sum by (source) (increase(vitals_sampler_errors_total{%s}[%s]))' % (SEL, rate),
                "{{source}}")], links=[link_to("overview")]), 24, 6))
    return dashboard("memory", "Process and heap figures sampled by the vitals agent: memory, "
                     "the leak trend, CPU, threads and file descriptors.", p)


def caches():
    L = Layout()
    rate = "$__rate_interval"
    gets = 'cache_gets_total{%s}' % SEL_CACHE
    p = []
    p.append(L.place(timeseries(
        "Hit ratio", "Share of lookups that found their entry. A drop means the working set "
        "outgrew the cache or keys churn; compare with unused evictions.", "percentunit",
        [target('sum by (cache) (rate(cache_gets_total{%s,result="hit"}[%s])) / sum by (cache) '
                '(rate(%s[%s]))' % (SEL_CACHE, rate, gets, rate), "{{cache}}")]), 12, 8))
    p.append(L.place(timeseries(
        "Gets, puts and evictions", "Per second: lookups by result, entries stored, entries "
        "evicted.", "ops",
        [target('sum by (cache, result) (rate(%s[%s]))' % (gets, rate), "{{cache}} {{result}}",
                "A"),
         target('sum by (cache) (rate(cache_puts_total{%s}[%s]))' % (SEL_CACHE, rate),
                "{{cache}} put", "B"),
         target('sum by (cache) (rate(cache_evictions_total{%s}[%s]))' % (SEL_CACHE, rate),
                "{{cache}} evicted", "C")]), 12, 8))
    p.append(L.place(timeseries(
        "Unused evictions", "Entries evicted before anyone hit them, per second. A large share "
        "of all evictions means the cache is too small or caches keys that are never read "
        "again.", "ops",
        [target('sum by (cache) (rate(cache_evictions_unused_total{%s}[%s]))'
                % (SEL_CACHE, rate), "{{cache}}")]), 8, 8))
    p.append(L.place(timeseries(
        "Size against max size", "Entries held and the bound. A cache pinned at its bound "
        "with a falling hit ratio wants to be bigger.", "short",
        [target('sum by (cache) (cache_size{%s})' % SEL_CACHE, "{{cache}} size", "A"),
         target('sum by (cache) (cache_max_size{%s})' % SEL_CACHE, "{{cache}} max", "B")]),
        8, 8))
    p.append(L.place(timeseries(
        "Load time p50 / p99", "Time spent filling misses, from the load histogram: what each "
        "miss costs the caller.", "s",
        [target('histogram_quantile(%s, sum by (cache, le) (rate('
                'cache_load_duration_seconds_bucket{%s}[%s])))' % (q, SEL_CACHE, rate),
                "p%s {{cache}}" % n, ref)
         for q, n, ref in (("0.5", "50", "A"), ("0.99", "99", "B"))],
        links=[link_to("overview")]), 8, 8))
    cache_var = variable("cache", "Cache", 'label_values(cache_gets_total{job=~"$job",'
                         'instance=~"$instance"}, cache)')
    return dashboard("caches", "Caches instrumented by the vitals agent (vitals::LruCache or "
                     "Agent::Cache): hit ratio, churn, size and load time.", p, [cache_var])


def database():
    L = Layout()
    rate = "$__rate_interval"
    dur = "db_client_operation_duration_seconds"
    p = []
    p.append(L.place(timeseries(
        "Queries per second by operation and table", "Database calls recorded through "
        "vitals/db.h, grouped by statement verb and main table.", "ops",
        [target('sum by (db_operation_name, db_collection_name) (rate(%s_count{%s}[%s]))' % (dur, SEL, rate),
                "{{db_operation_name}} {{db_collection_name}}")]), 12, 8))
    p.append(L.place(timeseries(
        "Query latency p99 by operation and table", "99th percentile duration of database "
        "calls. One table slowing down alone points at its indexes or locks.", "s",
        [target('histogram_quantile(0.99, sum by (db_operation_name, db_collection_name, le) (rate(%s_bucket{%s}[%s])))'
                % (dur, SEL, rate), "{{db_operation_name}} {{db_collection_name}}")]), 12, 8))
    p.append(L.place(timeseries(
        "Failed queries by error type", "Database calls per second that failed, by operation, "
        "table and error type: the database's own code (the SQLSTATE for PostgreSQL), as "
        "DbOperation::set_error or RecordDbOperation's error_type gave it.", "ops",
        [target('sum by (db_operation_name, db_collection_name, error_type) (rate(%s_count{%s,'
                'error_type!=""}[%s]))' % (dur, SEL, rate),
                "{{db_operation_name}} {{db_collection_name}} {{error_type}}")]), 12, 8))
    p.append(L.place(timeseries(
        "Query error ratio by operation and table", "Share of the database calls that failed. "
        "0 where nothing failed.", "percentunit",
        [target('sum by (db_operation_name, db_collection_name) (rate(%s_count{%s,error_type!=""}'
                '[%s])) / sum by (db_operation_name, db_collection_name) (rate(%s_count{%s}[%s])) '
                'or sum by (db_operation_name, db_collection_name) (rate(%s_count{%s}[%s])) * 0'
                % (dur, SEL, rate, dur, SEL, rate, dur, SEL, rate),
                "{{db_operation_name}} {{db_collection_name}}")]), 12, 8))
    p.append(L.place(timeseries(
        "Statement time by table", "Seconds of database time per second, by database and main "
        "table: where the database time goes. A table whose share grows without more calls is "
        "getting slower per call (see the index candidates beside it).", "s",
        [target('sum by (db_system_name, db_collection_name) (rate(%s_sum{%s}[%s]))' % (dur, SEL, rate),
                "{{db_system_name}} {{db_collection_name}}")]), 12, 8))
    p.append(L.place(timeseries(
        "Index candidates by table", "Plans of slow statements (explain_threshold) that read a "
        "whole table of at least explain_min_rows estimated rows to filter it, counted since "
        "the agent started: a missing index. The service log and the live page's statement "
        "table name the statement and the filtered columns. Needs VITALS_EXPLAIN_THRESHOLD.",
        "short",
        [target('sum by (db_system_name, db_namespace, db_collection_name) '
                '(vitals_db_index_candidates_total{%s})' % SEL,
                "{{db_system_name}} {{db_namespace}} {{db_collection_name}}", "A"),
         target('sum by (db_system_name, outcome) (increase(vitals_db_explains_total{%s}[$__range]))'
                % SEL, "explains {{db_system_name}} {{outcome}}", "B")]), 12, 8))
    p.append(L.place(timeseries(
        "Queries per request by route", "Average and 99th percentile of the database calls "
        "each request made. A route whose count grows with the size of its answer is running "
        "one query per row.", "short",
        [target('sum by (http_route) (rate(http_server_request_db_queries_sum{%s}[%s])) / sum by '
                '(http_route) (rate(http_server_request_db_queries_count{%s}[%s])) > 0'
                % (SEL_ROUTE, rate, SEL_ROUTE, rate), "avg {{http_route}}", "A"),
         target('histogram_quantile(0.99, sum by (http_route, le) (rate('
                'http_server_request_db_queries_bucket{%s}[%s]))) > 0' % (SEL_ROUTE, rate),
                "p99 {{http_route}}", "B")]), 12, 8))
    p.append(L.place(timeseries(
        "N+1 detections per route", "Requests per second that ran one statement at least the "
        "N+1 threshold times (VITALS_N_PLUS_ONE_THRESHOLD, default 5), by route and table. "
        "The service log names the statement; replace the loop with a join or an IN (...) "
        "query.", "reqps",
        [target('sum by (http_route, db_collection_name) (rate(vitals_db_n_plus_one_total{%s}[%s]))'
                % (SEL_ROUTE, rate), "{{http_route}} {{db_collection_name}}")]), 12, 8))
    p.append(L.place(timeseries(
        "Pool connections", "Connections in use and idle against the pool's maximum. Used "
        "pinned at the maximum means callers queue for connections.", "short",
        [target('sum by (db_client_connection_pool_name, db_client_connection_state) (db_client_connections_usage{%s})' % SEL,
                "{{db_client_connection_pool_name}} {{db_client_connection_state}}", "A"),
         target('sum by (db_client_connection_pool_name) (db_client_connection_max{%s})' % SEL, "{{db_client_connection_pool_name}} max", "B")]),
        8, 8))
    p.append(L.place(timeseries(
        "Pool wait time p99 and waiting callers", "How long callers waited for a connection, "
        "and how many are waiting now.", "s",
        [target('histogram_quantile(0.99, sum by (db_client_connection_pool_name, le) (rate('
                'db_client_connection_wait_time_seconds_bucket{%s}[%s])))' % (SEL, rate),
                "p99 wait {{db_client_connection_pool_name}}", "A"),
         target('sum by (db_client_connection_pool_name) (db_client_connection_pending_requests{%s})' % SEL,
                "waiting {{db_client_connection_pool_name}}", "B")]), 8, 8))
    p.append(L.place(timeseries(
        "Pool timeouts", "Callers per second that gave up waiting for a connection: the pool "
        "is too small for the load, or connections are held too long.", "ops",
        [target('sum by (db_client_connection_pool_name) (rate(db_client_connection_timeouts_total{%s}[%s]))'
                % (SEL, rate), "{{db_client_connection_pool_name}}")], links=[link_to("overview")]), 8, 8))
    route_var = variable("route", "Route", 'label_values(http_server_request_db_queries_count'
                         '{job=~"$job",instance=~"$instance"}, http_route)')
    return dashboard("database", "Database calls through the vitals agent: latency and "
                     "time by operation and table, index candidates from the plans of slow "
                     "statements, queries per request, N+1 detections and connection pools.",
                     p, [route_var])


def state_timeline(title, description, expr, legend, states):
    """A state timeline: one row per series, colored by the value's mapped state."""
    mappings = [{"type": "value", "options": {
        str(value): {"text": text, "color": color, "index": i}
        for i, (value, text, color) in enumerate(states)}}]
    return {
        "type": "state-timeline",
        "title": title,
        "description": description,
        "datasource": DS,
        "targets": [target(expr, legend)],
        "fieldConfig": {"defaults": {"unit": "none", "mappings": mappings,
                                     "color": {"mode": "thresholds"},
                                     "thresholds": {"mode": "absolute", "steps": [
                                         {"color": "green", "value": None}]}},
                        "overrides": []},
        "options": {"showValue": "never", "mergeValues": True, "rowHeight": 0.8,
                    "legend": {"displayMode": "list", "placement": "bottom"}},
        "links": [],
    }


def dependencies():
    L = Layout()
    rate = "$__rate_interval"
    client = "http_client_request_duration_seconds"
    sel_up = SEL + ',server_address=~"$server_address"'
    sel_cb = SEL + ',name=~"$breaker"'
    sel_ex = SEL + ',name=~"$executor"'
    inst = "server_address, server_port"
    p = []
    # Upstreams: each instance apart, as a load balancer spreads the calls.
    p.append(L.place(timeseries(
        "Upstream calls per second by instance", "Outbound HTTP calls recorded through "
        "vitals/client.h (or vitals::HttplibClient), per upstream instance. An instance "
        "getting fewer calls than its peers may be refused by its circuit breaker.", "reqps",
        [target('sum by (%s) (rate(%s_count{%s}[%s]))' % (inst, client, sel_up, rate),
                "{{server_address}}:{{server_port}}")]), 8, 8))
    p.append(L.place(timeseries(
        "Upstream latency p99 by instance", "99th percentile call duration per instance. One "
        "instance slower than its peers is a bad host, not a bad service.", "s",
        [target('histogram_quantile(0.99, sum by (%s, le) (rate(%s_bucket{%s}[%s])))'
                % (inst, client, sel_up, rate), "{{server_address}}:{{server_port}}")]), 8, 8))
    p.append(L.place(timeseries(
        "Upstream error ratio by instance", "Share of calls per instance that failed: a status "
        "of 400 or more, a timeout, or a connection error (error_type set). 0 where nothing "
        "failed.", "percentunit",
        [target('sum by (%s) (rate(%s_count{%s,error_type!=""}[%s])) / sum by (%s) '
                '(rate(%s_count{%s}[%s])) or sum by (%s) (rate(%s_count{%s}[%s])) * 0'
                % (inst, client, sel_up, rate, inst, client, sel_up, rate, inst, client, sel_up,
                   rate), "{{server_address}}:{{server_port}}")]), 8, 8))
    p.append(L.place(timeseries(
        "Upstream errors by type", "Failed calls per second by instance and error type: a "
        "status code, or timeout, connection_error, read_error, ...", "reqps",
        [target('sum by (%s, error_type) (rate(%s_count{%s,error_type!=""}[%s]))'
                % (inst, client, sel_up, rate),
                "{{server_address}}:{{server_port}} {{error_type}}")]), 12, 8))
    p.append(L.place(timeseries(
        "Upstream calls in flight", "Calls started and not finished, per instance. Growth "
        "with flat call rates means the instance answers more slowly.", "short",
        [target('sum by (%s) (http_client_active_requests{%s})' % (inst, sel_up),
                "{{server_address}}:{{server_port}}")]), 12, 8))
    # Circuit breakers: resilience4j's names, so its dashboards work too.
    p.append(L.place(state_timeline(
        "Circuit breaker state", "The state of each breaker over time: closed lets calls "
        "through, open refuses them, half_open lets a few probes through.",
        'max by (name) (resilience4j_circuitbreaker_state{%s,state="open"}) * 2 + max by (name) '
        '(resilience4j_circuitbreaker_state{%s,state="half_open"})' % (sel_cb, sel_cb), "{{name}}",
        [(0, "closed", "green"), (1, "half_open", "yellow"), (2, "open", "red")]), 12, 8))
    p.append(L.place(timeseries(
        "Circuit breaker transitions", "State changes per breaker in the interval (each change "
        "flips two state series). A breaker that changes state often is flapping: its "
        "thresholds are too close to the dependency's normal failure rate.", "short",
        [target('sum by (name) (changes(resilience4j_circuitbreaker_state{%s}[5m])) / 2'
                % sel_cb, "{{name}}")]), 12, 8))
    p.append(L.place(timeseries(
        "Circuit breaker failure and slow-call rates", "Percent of the sliding window that "
        "failed and that was slow; the breaker opens when either reaches its threshold. "
        "Missing until the window holds the minimum number of calls.", "percent",
        [target('max by (name) (resilience4j_circuitbreaker_failure_rate{%s}) >= 0' % sel_cb,
                "{{name}} failure rate", "A"),
         target('max by (name) (resilience4j_circuitbreaker_slow_call_rate{%s}) >= 0' % sel_cb,
                "{{name}} slow-call rate", "B")]), 8, 8))
    p.append(L.place(timeseries(
        "Calls through breakers by kind", "Calls per second through each breaker: successful, "
        "failed, ignored, and not permitted (refused while open).", "reqps",
        [target('sum by (name, kind) (rate(resilience4j_circuitbreaker_calls_seconds_count'
                '{%s}[%s]))' % (sel_cb, rate), "{{name}} {{kind}}", "A"),
         target('sum by (name, kind) (rate(resilience4j_circuitbreaker_not_permitted_calls_total'
                '{%s}[%s]))' % (sel_cb, rate), "{{name}} {{kind}}", "B")], stack=True), 8, 8))
    p.append(L.place(timeseries(
        "Circuit breaker call latency p99", "99th percentile duration of the calls through "
        "each breaker, successful and failed apart.", "s",
        [target('histogram_quantile(0.99, sum by (name, kind, le) (rate('
                'resilience4j_circuitbreaker_calls_seconds_bucket{%s,kind!="ignored"}[%s])))'
                % (sel_cb, rate), "{{name}} {{kind}}")]), 8, 8))
    # Executors: Micrometer's names.
    p.append(L.place(timeseries(
        "Executor queue and busy threads", "Tasks waiting, threads running tasks, and the "
        "pool's size. Busy threads at the pool size with a queue that does not drain is "
        "saturation: tasks wait longer and longer.", "short",
        [target('sum by (name) (executor_queued_tasks{%s})' % sel_ex, "{{name}} queued", "A"),
         target('sum by (name) (executor_active_threads{%s})' % sel_ex, "{{name}} active", "B"),
         target('sum by (name) (executor_pool_size_threads{%s})' % sel_ex, "{{name}} pool size",
                "C")]), 12, 8))
    p.append(L.place(timeseries(
        "Executor queue wait p50 / p99", "How long tasks waited between submit and start "
        "(executor_idle_seconds): the latency the pool adds to every task.", "s",
        [target('histogram_quantile(%s, sum by (name, le) (rate(executor_idle_seconds_bucket'
                '{%s}[%s])))' % (q, sel_ex, rate), "p%s {{name}}" % n, ref)
         for q, n, ref in (("0.5", "50", "A"), ("0.99", "99", "B"))]), 12, 8))
    p.append(L.place(timeseries(
        "Executor task run time p50 / p99", "How long tasks ran, start to finish "
        "(executor_seconds).", "s",
        [target('histogram_quantile(%s, sum by (name, le) (rate(executor_seconds_bucket'
                '{%s}[%s])))' % (q, sel_ex, rate), "p%s {{name}}" % n, ref)
         for q, n, ref in (("0.5", "50", "A"), ("0.99", "99", "B"))]), 8, 8))
    p.append(L.place(timeseries(
        "Executor tasks completed per second", "Throughput of each pool.", "ops",
        [target('sum by (name) (rate(executor_completed_tasks_total{%s}[%s]))' % (sel_ex, rate),
                "{{name}}")]), 8, 8))
    p.append(L.place(timeseries(
        "Stalled tasks", "Tasks that ran past the pool's stall threshold, in the last 15 "
        "minutes. The service's log names each one.", "short",
        [target('sum by (name) (increase(vitals_executor_stalled_tasks_total{%s}[15m]))' % sel_ex,
                "{{name}}")], links=[link_to("overview")]), 8, 8))
    up_var = variable("server_address", "Upstream", 'label_values(%s_count{job=~"$job",'
                      'instance=~"$instance"}, server_address)' % client)
    cb_var = variable("breaker", "Circuit breaker", 'label_values(resilience4j_circuitbreaker_'
                      'state{job=~"$job",instance=~"$instance"}, name)')
    ex_var = variable("executor", "Executor", 'label_values(executor_pool_size_threads{'
                      'job=~"$job",instance=~"$instance"}, name)')
    return dashboard("dependencies", "What the service depends on: outbound calls per upstream "
                     "instance, circuit breakers (resilience4j's metric names) and the "
                     "saturation of its own thread pools (Micrometer's executor names).", p,
                     [up_var, cb_var, ex_var])


def fleet():
    L = Layout()
    rate = "$__rate_interval"
    dur = "http_server_request_duration_seconds"
    job = 'job=~"$job"'
    p = []
    p.append(L.place(stat(
        "Instances up", "Targets of the selected jobs that answered their last scrape.", "short",
        'sum(up{%s} == 1) or vector(0)' % job), 6, 5))
    p.append(L.place(stat(
        "Instances down", "Targets of the selected jobs whose last scrape failed "
        "(VitalsTargetDown fires after 2 minutes of it).", "short",
        'sum(up{%s} == 0) or vector(0)' % job, thresholds=[("red", 1)]), 6, 5))
    p.append(L.place(stat(
        "Series in the store", "Series the selected jobs' instances send, summed "
        "(scrape_samples_scraped: every bucket of a histogram is a series of its own): what the "
        "fleet costs a central store.", "short",
        'sum(scrape_samples_scraped{%s})' % job), 6, 5))
    p.append(L.place(stat(
        "Versions running", "Distinct service_version values in target_info.", "short",
        'count(count by (service_version) (target_info{%s}))' % job), 6, 5))
    p.append(L.place(table(
        "Instances and their versions", "Every instance with its identity from target_info "
        "(service_version, service_instance_id: a new id after each restart).", "short",
        'max by (job, instance, service_name, service_version, service_instance_id) '
        '(target_info{%s})' % job, value_name="up"), 24, 7))
    p.append(L.place(timeseries(
        "Top instances by p99", "The five instances with the highest 99th percentile request "
        "duration, over all routes.", "s",
        [target('topk(5, histogram_quantile(0.99, sum by (job, instance, le) (rate(%s_bucket{%s}'
                '[%s]))))' % (dur, job, rate), "{{instance}}")]), 12, 8))
    p.append(L.place(timeseries(
        "Top instances by error share", "The five instances with the highest share of 5xx "
        "answers (0 where none failed).", "percentunit",
        [target('topk(5, sum by (job, instance) (rate(%s_count{%s,http_response_status_code=~"5.."}'
                '[%s])) / sum by (job, instance) (rate(%s_count{%s}[%s])) or sum by (job, '
                'instance) (rate(%s_count{%s}[%s])) * 0)'
                % (dur, job, rate, dur, job, rate, dur, job, rate), "{{instance}}")]), 12, 8))
    p.append(L.place(timeseries(
        "Series per instance", "Series each instance sends (scrape_samples_scraped), and the "
        "label sets its families hold (vitals_series, against series_limit per family: the "
        "live page's Series budget). One instance far above the others has a family whose "
        "labels churn.", "short",
        [target('sort_desc(sum by (job, instance) (scrape_samples_scraped{%s}))' % job,
                "{{instance}} series", "A"),
         target('sort_desc(sum by (job, instance) (vitals_series{%s}))' % job,
                "{{instance}} label sets", "B")]), 12, 8))
    p.append(L.place(timeseries(
        "Requests per second by version", "Request rate by service_version, joined from "
        "target_info: a rollout shows as one version taking over from another.", "reqps",
        [target('sum by (service_version) (rate(%s_count{%s}[%s]) * on (job, instance) '
                'group_left (service_version) target_info)' % (dur, job, rate),
                "{{service_version}}")]), 12, 8))
    return dashboard("fleet", "Every instance of a service at once: which are up, which "
                     "versions run, which instances are slowest or fail most, and what each "
                     "costs in series.", p)


def main():
    boards = {"service-overview.json": overview(), "memory-process.json": memory(),
              "caches.json": caches(), "database.json": database(),
              "dependencies.json": dependencies(), "fleet.json": fleet()}
    check = "--check" in sys.argv[1:]
    stale = []
    for name, board in boards.items():
        text = json.dumps(board, indent=2, sort_keys=True) + "\n"
        path = os.path.join(OUT, name)
        if check:
            if not os.path.exists(path) or open(path).read() != text:
                stale.append(path)
        else:
            with open(path, "w") as f:
                f.write(text)
    if stale:
        print("out of date (run dashboards/generate.py): " + ", ".join(stale))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
