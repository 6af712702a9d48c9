# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""`gcpause --http`: per-request lines checked against the client's and the app's own clocks.

Real servers from Debian packages (tests/http/servers.py) run a Flask or ASGI app
(tests/http/app.py) that records, in-process, every request it handles and every collection
(gc.callbacks). A raw-socket client (tests/http/client.py) sends requests with a unique id in
the path and stamps each send and receive. All clocks are CLOCK_MONOTONIC, so for each request:

  client send (or connect)  <=  arrival_ns  <=  start_ns  <=  handler start
  handler end  <=  first_byte_ns  <=  end_ns  <=  client's last byte received (+ RECV_SLACK_NS)

and gc_ns / gc_count must be the collections of that process overlapping [arrival_ns, end_ns]:
exactly, against gcpause's own `gc` lines (which are matched one-to-one with the app's
callbacks, as in the other e2e tests), and within CALLBACK_BEFORE_NS / CALLBACK_AFTER_NS per
collection against the app's callback intervals directly.

See docs/http-testing.md.
"""

import bisect
import json
import os
import re
import statistics
import sys
import time
import uuid

import pytest

from conftest import (GCPAUSE, PERCENTILE_TOLERANCE, REPO, Gcpause, _percentile_bounds,
                      event_end, match_callbacks, popen, run_gcpause, summary_process)

# The servers, the app and the client live in tests/http.
sys.path.insert(0, str(REPO / "tests" / "http"))
import client as http_client  # noqa: E402
import servers  # noqa: E402

# Client-side receive stamps come after the server's last write has put the bytes in the
# client's socket, but the server's syscall return (end_ns) can be delayed past them: on
# loopback the data is delivered inside the server's write, and the woken client may run (even
# preempt the server on the same CPU) before that write returns.
RECV_SLACK_NS = 5_000_000
# CPython runs the "start" callback just before gc__start and the "stop" callback just after
# gc__done: a callback interval exceeds the collection gcpause times by at most this much before
# and after it (preemption aside). Measured with gcpause attached to these servers: before,
# median 1.5 us, max 64 us; after, median 15-33 us, p99 60-96 us, max 107 us.
CALLBACK_BEFORE_NS = 100_000
CALLBACK_AFTER_NS = 250_000
HTTP_KINDS = ("gunicorn-sync", "gunicorn-gevent", "uvicorn", "uvicorn-uvloop", "hypercorn",
              "tornado")
LOAD_KINDS = ("gunicorn-sync", "gunicorn-gevent", "uvicorn", "hypercorn", "tornado")
PATH_MAX = 128
REQUEST_INT_FIELDS = ("pid", "tid", "fd", "status", "arrival_ns", "start_ns", "first_byte_ns",
                      "end_ns", "queue_ns", "service_ns", "latency_ns", "gc_ns", "gc_count")


# --------------------------------------------------------------------------
# Fixtures
# --------------------------------------------------------------------------

@pytest.fixture(scope="session")
def http_gcpause(gcpause_bin):
    """Fails every test of this file, clearly, while gcpause has no --http."""
    res = run_gcpause([GCPAUSE, "--http", "--json", "-d", "0.3", "-p", os.getpid()], timeout=30)
    said = (res.stderr.strip() or res.stdout.strip()).splitlines()[:3]
    if res.returncode == 2 or "unknown option" in res.stderr:
        pytest.fail(f"gcpause has no --http: `gcpause --http --json -d 0.3 -p PID` exited "
                    f"{res.returncode}: {said}", pytrace=False)
    if res.returncode != 0:
        pytest.fail(f"`gcpause --http --json -d 0.3 -p {os.getpid()}` (this pytest, a "
                    f"python3.11) failed with {res.returncode}: {said}", pytrace=False)
    return gcpause_bin


@pytest.fixture
def server_factory(procs, tmp_path):
    """Starts servers; kills each one's whole process group at the end of the test."""
    started = []

    def start(kind, **kw):
        srv = servers.Server(kind, tmp_path / f"{kind}-{len(started)}", procs=procs, **kw)
        started.append(srv)
        return srv.start()

    try:
        yield start
    finally:
        for srv in started:
            srv.kill()


# --------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------

def id_of(path):
    parts = path.split("?")[0].split("/")
    if len(parts) > 2 and parts[1] in ("work", "gc") and parts[2]:
        return parts[2]
    return None


def expected_path(sent):
    return sent.split("?", 1)[0].encode()[:PATH_MAX].decode("latin-1")


def overlap(a0, a1, b0, b1):
    return max(0, min(a1, b1) - max(a0, b0))


def check_workers_listed(pids):
    """`gcpause list` sees each worker as Debian's Python 3.11 with the usdt probe."""
    res = run_gcpause([GCPAUSE, "list", "--json"] + [a for p in pids for a in ("-p", p)])
    assert res.returncode == 0, res.stderr
    rows = {r["pid"]: r for r in map(json.loads, res.stdout.splitlines())}
    for pid in pids:
        assert rows[pid]["probe"] == "usdt", rows[pid]
        assert rows[pid]["version"] == "3.11.2", rows[pid]
        assert rows[pid]["binary"] == "/usr/bin/python3.11", rows[pid]


def start_tracing(procs, pids):
    gp = Gcpause(procs, ["--http"] + [a for p in pids for a in ("-p", p)])
    attach = {pid: gp.wait_attach(pid) for pid in pids}
    for pid, rec in attach.items():
        assert rec["probe"] == "usdt", rec
    return gp, attach


def request_lines(gp):
    return [r for r in gp.records() if r["type"] == "request"]


def check_request_well_formed(r):
    for k in REQUEST_INT_FIELDS:
        assert isinstance(r.get(k), int) and not isinstance(r.get(k), bool), \
            f"request field {k} missing or not an integer: {r}"
    assert isinstance(r.get("method"), str) and r["method"], r
    assert isinstance(r.get("path"), str) and len(r["path"].encode()) <= PATH_MAX, r
    assert "?" not in r["path"], f"query string not dropped: {r}"
    assert isinstance(r.get("route"), str) and r["route"].startswith(r["path"][:1]), r
    assert r.get("arrival_source") in ("tcp", "read"), r
    gens = r.get("gc_ns_by_gen")
    assert isinstance(gens, list) and len(gens) == 3 and all(isinstance(g, int) for g in gens), r
    assert r["arrival_ns"] <= r["start_ns"] <= r["first_byte_ns"] <= r["end_ns"], \
        f"times out of order: {r}"
    assert r["queue_ns"] == r["start_ns"] - r["arrival_ns"], r
    assert r["service_ns"] == r["end_ns"] - r["start_ns"], r
    assert r["latency_ns"] == r["end_ns"] - r["arrival_ns"], r
    assert sum(gens) == r["gc_ns"], f"gc_ns_by_gen does not add up to gc_ns: {r}"
    assert 0 <= r["gc_ns"] <= r["latency_ns"], r
    if r["gc_count"] == 0:
        assert r["gc_ns"] == 0, f"gc_ns without a collection: {r}"
    if r["arrival_source"] == "read":
        assert r["arrival_ns"] == r["start_ns"], f"arrival fell back to the read: {r}"


class GcTruth:
    """One worker's collections: gcpause's events and the app's callbacks, sorted, each callback
    with the event inside it (match_callbacks has checked there is exactly one) and whether it
    is within CALLBACK_BEFORE_NS / CALLBACK_AFTER_NS of it."""

    def __init__(self, events, callbacks):
        self.events = sorted(events, key=lambda e: e["start_ns"])
        self.ev_starts = [e["start_ns"] for e in self.events]
        self.callbacks = sorted(callbacks, key=lambda c: c["start_ns"])
        self.cb_starts = [c["start_ns"] for c in self.callbacks]
        self.cb_ends = [c["end_ns"] for c in self.callbacks]
        self.precise = []
        for c in self.callbacks:
            i = bisect.bisect_left(self.ev_starts, c["start_ns"])
            ev = self.events[i] if i < len(self.events) else None
            self.precise.append(
                ev is not None and event_end(ev) <= c["end_ns"]
                and ev["start_ns"] - c["start_ns"] <= CALLBACK_BEFORE_NS
                and c["end_ns"] - event_end(ev) <= CALLBACK_AFTER_NS)

    def events_near(self, a, e):
        """Events that overlap or touch [a, e] (collections never overlap each other)."""
        i = max(0, bisect.bisect_left(self.ev_starts, a) - 1)
        out = []
        while i < len(self.events) and self.events[i]["start_ns"] <= e:
            if event_end(self.events[i]) >= a:
                out.append(self.events[i])
            i += 1
        return out

    def callbacks_near(self, a, e):
        lo = bisect.bisect_left(self.cb_ends, a)
        hi = bisect.bisect_right(self.cb_starts, e)
        return [(self.callbacks[i], self.precise[i]) for i in range(lo, hi)]


def gc_from_events(truth, a, e):
    """(ns, count, ns by gen, count of zero-length touches) of events overlapping [a, e]."""
    ns, count, touch, by_gen = 0, 0, 0, [0, 0, 0]
    for ev in truth.events_near(a, e):
        ov = overlap(ev["start_ns"], event_end(ev), a, e)
        if ov > 0:
            ns += ov
            count += 1
            by_gen[ev["gen"] if 0 <= ev["gen"] <= 2 else 2] += ov
        else:
            touch += 1
    return ns, count, by_gen, touch


def check_request_gc(r, truth):
    """gc_ns/gc_count of a request: exact against gcpause's gc events of that process, and
    within CALLBACK_BEFORE_NS/CALLBACK_AFTER_NS per collection against the app's own callback
    intervals: a collection is certainly in when its callback interval, shrunk by those, still
    overlaps [arrival, end], possibly when the whole callback interval does. The second check
    is skipped (None) when a callback near the request was further from its markers than that
    (the worker was preempted in between: about one collection in a few hundred under load).
    Returns (problems against the events, problems against the callbacks or None)."""
    a, e = r["arrival_ns"], r["end_ns"]
    ns, count, by_gen, touch = gc_from_events(truth, a, e)
    problems, cb_problems = [], []
    if r["gc_ns"] != ns or r["gc_ns_by_gen"] != by_gen:
        problems.append(f"gc_ns {r['gc_ns']} by gen {r['gc_ns_by_gen']} != {ns} by gen "
                        f"{by_gen}, the overlap of gcpause's own gc events with [arrival, end]")
    if not count <= r["gc_count"] <= count + touch:
        problems.append(f"gc_count {r['gc_count']} != {count} gc events overlapping "
                        f"[arrival, end] (+{touch} touching it)")
    certain, possible, lo_ns, hi_ns = 0, 0, 0, 0
    for c, precise in truth.callbacks_near(a, e):
        if not precise:
            return problems, None
        possible += 1
        hi_ns += overlap(c["start_ns"], c["end_ns"], a, e)
        sure = overlap(c["start_ns"] + CALLBACK_BEFORE_NS, c["end_ns"] - CALLBACK_AFTER_NS, a, e)
        if sure > 0:
            certain += 1
            lo_ns += sure
    if not (certain <= r["gc_count"] <= possible and lo_ns <= r["gc_ns"] <= hi_ns):
        cb_problems.append(f"against the app's callbacks: gc_count {r['gc_count']} not in "
                           f"[{certain}, {possible}] or gc_ns {r['gc_ns']} not in "
                           f"[{lo_ns}, {hi_ns}]")
    return problems, cb_problems


def match_requests(lines, sent, handled, static_paths=("/static",)):
    """Pairs gcpause's request lines with what the client sent and the app handled.

    sent: client Results. Every answered request with an id must appear exactly once, one
    that got no answer not at all; requests without an id (static files) are matched by path,
    as many lines as answered requests. No other line may exist (garbage, bodies, ...).
    Returns [(line, result, handled record or None)], and a list of problems.
    """
    problems = []
    by_id = {}
    for r in lines:
        by_id.setdefault(id_of(r["path"]), []).append(r)
    app_by_id = {}
    for h in handled:
        if h["id"] is not None:
            if h["id"] in app_by_id:
                problems.append(f"the app handled id {h['id']} twice")
            app_by_id[h["id"]] = h
    pairs = []
    seen_ids = set()
    for c in sent:
        rid = id_of(c.path)
        if rid is None:
            continue
        seen_ids.add(rid)
        got = by_id.get(rid, [])
        if not c.ok:
            if got:
                problems.append(f"{c.method} {c.path} got no response ({c.error}) yet is "
                                f"reported: {got}")
            continue
        if len(got) != 1:
            problems.append(f"{c.method} {c.path} (status {c.status}, conn {c.conn}) "
                            f"reported {len(got)} times: {got[:3]}")
            continue
        pairs.append((got[0], c, app_by_id.get(rid)))
    for p in static_paths:
        answered = [c for c in sent if c.path == p and c.ok]
        got = sorted(by_id.get(None, []), key=lambda r: r["start_ns"])
        got = [r for r in got if r["path"] == p]
        if len(got) != len(answered):
            problems.append(f"{len(answered)} answered {p} requests, {len(got)} reported: {got}")
        else:
            pairs += list(zip(got, sorted(answered, key=lambda c: c.send_ns),
                              [None] * len(got)))
    extra = [r for r in lines
             if (id_of(r["path"]) is None and r["path"] not in static_paths)
             or (id_of(r["path"]) is not None and id_of(r["path"]) not in seen_ids)]
    if extra:
        problems.append(f"{len(extra)} request lines match no request the client sent: "
                        f"{extra[:5]}")
    return pairs, problems


def check_pair(r, c, h, truth):
    """One request line against the client's result and the app's record."""
    problems = []
    if r["method"] != c.method or r["path"] != expected_path(c.path) or r["status"] != c.status:
        problems.append(f"method/path/status {r['method']} {r['path']!r} {r['status']} != sent "
                        f"{c.method} {expected_path(c.path)!r}, answered {c.status}")
    rid = id_of(c.path)
    if rid and (rid in r["route"] or not r["route"].startswith(c.path.split("/")[1], 1)):
        problems.append(f"route {r['route']!r} of {c.path!r} still holds its id {rid}")
    if not c.sent_lower_ns <= r["arrival_ns"]:
        problems.append(f"arrival_ns {r['arrival_ns']} before the client "
                        f"{'connected' if c.first_on_conn else 'sent'} "
                        f"({c.sent_lower_ns}, {c.sent_lower_ns - r['arrival_ns']} ns later)")
    if not r["end_ns"] <= c.recv_ns + RECV_SLACK_NS:
        problems.append(f"end_ns {r['end_ns']} is {r['end_ns'] - c.recv_ns} ns after the "
                        f"client received the last byte ({c.recv_ns})")
    if r["arrival_source"] != "tcp":
        problems.append(f"arrival_source {r['arrival_source']!r}, but the connection was "
                        f"made after attach: the TCP tracepoints should have seen it")
    if h is not None:
        if (r["pid"], r["tid"]) != (h["pid"], h["tid"]):
            problems.append(f"pid/tid {r['pid']}/{r['tid']} != the handler's "
                            f"{h['pid']}/{h['tid']}")
        if not r["start_ns"] <= h["handler_start_ns"]:
            problems.append(f"start_ns {r['start_ns']} after the handler started "
                            f"({h['handler_start_ns']})")
        if not h["handler_end_ns"] <= r["first_byte_ns"]:
            problems.append(f"first_byte_ns {r['first_byte_ns']} before the handler ended "
                            f"({h['handler_end_ns']})")
        if r["gc_count"] < h["gc_count"]:
            problems.append(f"gc_count {r['gc_count']} < the {h['gc_count']} collections the "
                            f"handler saw")
        inside = sum(ev["duration_ns"]
                     for ev in truth.events_near(h["handler_start_ns"], h["handler_end_ns"])
                     if h["handler_start_ns"] <= ev["start_ns"]
                     and event_end(ev) <= h["handler_end_ns"])
        if r["gc_ns"] < inside:
            problems.append(f"gc_ns {r['gc_ns']} < the {inside} ns of collections inside the "
                            f"handler")
    exact, cb = check_request_gc(r, truth)
    return [f"{c.method} {c.path[:60]}: {p}" for p in problems + exact + (cb or [])]


def check_http_summary(summary, pid, lines):
    """The `http` object of a process in a summary (docs/json.md), against its request lines.
    Everything about the summary's shape lives here, to be adjusted in one place."""
    proc = summary_process(summary, pid)
    http = proc.get("http")
    assert isinstance(http, dict), f"pid {pid}: no http object in the summary: {proc.keys()}"
    what = f"pid {pid} http"
    lat = sorted(r["latency_ns"] for r in lines)
    assert http["requests"] == len(lines), f"{what}: requests {http['requests']} != {len(lines)}"
    assert http["arrival_from_read"] == sum(r["arrival_source"] == "read" for r in lines), http

    def block(b, durs, name):
        durs = sorted(durs)
        assert b["count"] == len(durs), f"{what} {name}: count {b['count']} != {len(durs)}"
        if not durs:
            return
        assert b["max_ns"] == durs[-1], f"{what} {name}: max_ns {b['max_ns']} != {durs[-1]}"
        for key, q in (("p50_ns", 0.50), ("p95_ns", 0.95), ("p99_ns", 0.99)):
            lo, hi = _percentile_bounds(durs, q)
            assert lo * (1 - PERCENTILE_TOLERANCE) <= b[key] <= hi * (1 + PERCENTILE_TOLERANCE), \
                f"{what} {name}: {key} {b[key]} outside [{lo}, {hi}] (n={len(durs)})"

    block(http["latency"], lat, "latency")
    block(http["gc_hit"], [r["latency_ns"] for r in lines if r["gc_count"] > 0], "gc_hit")
    block(http["clean"], [r["latency_ns"] for r in lines if r["gc_count"] == 0], "clean")
    block(http["queue"], [r["queue_ns"] for r in lines], "queue")
    block(http["gen2_hit"], [r["latency_ns"] for r in lines if r["gc_ns_by_gen"][2] > 0],
          "gen2_hit")
    big = [r for r in lines if r["gc_count"] > 0 and r["gc_ns"] >= http["hit_min_ns"]]
    block(http["big_hit"], [r["latency_ns"] for r in big], "big_hit")
    for name, q in (("p95", 0.95), ("p99", 0.99)):
        t = http["tail"][name]
        if not lines:
            assert t["requests"] == 0, t
            continue
        lo, hi = _percentile_bounds(lat, q)
        thr = t["threshold_ns"]
        assert lo * (1 - PERCENTILE_TOLERANCE) <= thr <= hi * (1 + PERCENTILE_TOLERANCE), \
            f"{what} tail {name}: threshold {thr} outside [{lo}, {hi}]"
        above = [r for r in lines if r["latency_ns"] >= t["threshold_ns"]]
        gen2 = [r for r in above if r["gc_ns_by_gen"][2] > 0]
        big_above = [r for r in above if r["gc_count"] > 0 and r["gc_ns"] >= http["hit_min_ns"]]
        want = {"requests": len(above), "gc_hit": sum(r["gc_count"] > 0 for r in above),
                "gc_ns": sum(r["gc_ns"] for r in above),
                "latency_ns": sum(r["latency_ns"] for r in above),
                "gen2_hit": len(gen2), "gen2_gc_ns": sum(r["gc_ns"] for r in gen2),
                "gen2_latency_ns": sum(r["latency_ns"] for r in gen2),
                "big_hit": len(big_above), "big_gc_ns": sum(r["gc_ns"] for r in big_above),
                "big_latency_ns": sum(r["latency_ns"] for r in big_above)}
        got = {k: t[k] for k in want}
        assert got == want, f"{what} tail {name} (threshold {t['threshold_ns']}): {got} != {want}"
    weighted = http["request_weighted_gc_ns_by_gen"]
    assert weighted == [sum(r["gc_ns_by_gen"][g] for r in lines) for g in range(3)], \
        f"{what}: request_weighted_gc_ns_by_gen {weighted}"
    # Each pause at most once: no more than the request-weighted sum, nor than the largest
    # single request's share when one request overlapped it all.
    wall = http["gc_wall_ns_by_gen"]
    for g in range(3):
        assert max([r["gc_ns_by_gen"][g] for r in lines] or [0]) <= wall[g] <= weighted[g], \
            f"{what}: gc_wall_ns_by_gen {wall} vs request-weighted {weighted}"
    slowest = [r["latency_ns"] for r in http["slowest"]]
    assert slowest == sorted(lat, reverse=True)[:5], f"{what}: slowest {slowest}"
    routes = {(x["method"], x["route"]): x for x in http["routes"]}
    for (m, p) in {(r["method"], r["route"]) for r in lines}:
        want = [r for r in lines if (r["method"], r["route"]) == (m, p)]
        if (m, p) not in routes:
            assert len(routes) >= 63, f"{what}: route {m} {p} missing: {list(routes)}"
            continue
        assert routes[(m, p)]["count"] == len(want), (routes[(m, p)], len(want))
        assert routes[(m, p)]["gc_hit"] == sum(1 for r in want if r["gc_count"] > 0), \
            routes[(m, p)]
    return http


UNASSEMBLED_KEYS = ("unanswered_requests", "unmatched_responses", "cut_request_lines",
                    "pipeline_overflow", "untraced_process")


def check_http_totals(summary, non_http=None, unassembled=None):
    """The summary's top-level --http counters, and all processes' requests together.
    unassembled: the expected http_unassembled counts ({} for all zero)."""
    assert summary["http_dropped_events"] == 0, summary["http_dropped_events"]
    assert set(summary["http_unassembled"]) == set(UNASSEMBLED_KEYS), summary["http_unassembled"]
    if unassembled is not None:
        want = {k: unassembled.get(k, 0) for k in UNASSEMBLED_KEYS}
        assert summary["http_unassembled"] == want, summary["http_unassembled"]
    procs = [p["http"] for p in summary["processes"]]
    together = summary["http_all"]
    for key in ("requests", "arrival_from_read"):
        assert together[key] == sum(h[key] for h in procs), (key, together[key])
    for block in ("latency", "gc_hit", "clean", "queue"):
        assert together[block]["count"] == sum(h[block]["count"] for h in procs), block
        if together[block]["count"]:
            assert together[block]["max_ns"] == max(h[block]["max_ns"] or 0 for h in procs)
    for key in ("request_weighted_gc_ns_by_gen", "gc_wall_ns_by_gen"):
        assert together[key] == [sum(h[key][g] for h in procs) for g in range(3)], key
    slowest = sorted((r["latency_ns"] for h in procs for r in h["slowest"]), reverse=True)
    assert [r["latency_ns"] for r in together["slowest"]] == slowest[:len(together["slowest"])]
    for r in together["slowest"]:
        # The listed pauses are whole collections overlapping the request, longest first.
        durations = [p["duration_ns"] for p in r["pauses"]]
        assert durations == sorted(durations, reverse=True), r
        assert len(r["pauses"]) == min(r["gc_count"], 4), r
        for p in r["pauses"]:
            assert p["start_ns"] < r["end_ns"] and p["start_ns"] + p["duration_ns"] > \
                r["arrival_ns"], (p, r)
    if non_http is not None:
        assert summary["non_http_connections"] == non_http, \
            f"non_http_connections {summary['non_http_connections']} != {non_http}"


def finish(gp, srv, procs_pids):
    """Stops gcpause (which must still be running), then the server; returns the total summary."""
    assert gp.proc.poll() is None, (f"gcpause exited early ({gp.proc.returncode}); "
                                    f"stderr: {gp.err.snapshot()}")
    stop_ns = time.monotonic_ns()
    assert gp.stop() == 0, f"gcpause exit code non-zero; stderr: {gp.err.snapshot()}"
    total = gp.total()
    rc = srv.stop()
    assert rc == 0, f"{srv.kind} exited with {rc}; log:\n{srv.log()[-2000:]}"
    for pid in procs_pids:
        assert srv.exited_cleanly(pid), f"worker {pid} did not flush its ground truth"
    return stop_ns, total


def gc_truth(gp, srv, attach, stop_ns):
    """Per worker, a GcTruth: gcpause's gc events and the app's callbacks, matched one to one
    between the attach and stop_ns."""
    truth = {}
    all_events = gp.events()
    for pid in srv.workers:
        gt = srv.collections(pid)
        match_callbacks(all_events, gt, attach[pid]["time_ns"], stop_ns)
        truth[pid] = GcTruth([e for e in all_events if e["pid"] == pid], gt["collections"])
    return truth


# --------------------------------------------------------------------------
# The scenario: every kind of request the issue names
# --------------------------------------------------------------------------

def run_scenario(c, tag):
    """Sends everything; returns {name: [Result]} and the garbage results."""
    out = {}
    garbage = [c.garbage(http_client.random_garbage()),
               c.garbage(b"SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n"),
               c.garbage(b"hello there, this is not HTTP at all\r\n\r\n")]
    out["keepalive"] = c.keepalive([f"/work/{tag}ka{i:03d}" for i in range(12)])
    out["newconn"] = c.new_connections([f"/work/{tag}nc{i:03d}" for i in range(12)])
    out["http10"] = c.new_connections([f"/work/{tag}h10{i:03d}" for i in range(2)],
                                      version="1.0")
    # A body that looks like requests, read separately from its headers: not requests.
    fake = b"".join(f"GET /work/{tag}fake{i:03d} HTTP/1.1\r\nHost: x\r\n\r\n".encode()
                    for i in range(40))
    out["post"] = c.keepalive([f"/work/{tag}po{i:03d}" for i in range(3)], method="POST",
                              body=fake, body_gap_s=0.02)
    out["query"] = c.keepalive([f"/work/{tag}q{i:03d}?a=1&b=/x?y" for i in range(2)])
    out["long"] = c.new_connections([f"/work/{tag}lp000/" + "x" * 300])
    out["pipelined"] = c.pipelined([f"/work/{tag}pa000", f"/work/{tag}pb000"])
    out["static"] = [c.static()]
    # Two full collections, then requests arriving while they run: queued behind a pause.
    out["burst"] = c.concurrent([(0.0, f"/gc/{tag}ga000"), (0.004, f"/gc/{tag}gb000"),
                                 (0.010, f"/work/{tag}bw000"), (0.011, f"/work/{tag}bw001"),
                                 (0.012, f"/work/{tag}bw002")])
    garbage.append(c.garbage(http_client.random_garbage(4096)))
    out["final"] = c.keepalive([f"/work/{tag}fin000"])
    return out, garbage


@pytest.mark.parametrize("kind", HTTP_KINDS)
def test_requests_match_client_and_app(procs, server_factory, http_gcpause, kind):
    srv = server_factory(kind)
    check_workers_listed(srv.workers)
    gp, attach = start_tracing(procs, srv.workers)

    tag = uuid.uuid4().hex[:6]
    c = http_client.Client("127.0.0.1", srv.port)
    results, garbage = run_scenario(c, tag)
    sent = [r for rs in results.values() for r in rs]
    final = results["final"][0]
    assert final.ok, f"the last request failed: {final}"
    gp.wait_record(lambda r: r.get("type") == "request" and id_of(r.get("path", "")) ==
                   f"{tag}fin000", 10, "the last request's line")
    time.sleep(0.2)
    stop_ns, total = finish(gp, srv, srv.workers)

    # What the client saw, so that the checks below test what they mean to.
    failed = [r for r in sent if not r.ok]
    if kind == "gunicorn-sync":
        # Sync workers answer the first of a pipelined pair, then close: the second is lost.
        assert [r.path for r in failed] == [f"/work/{tag}pb000"], failed
        assert all(r.first_on_conn for r in results["keepalive"]), "sync workers keep alive?"
    else:
        assert not failed, failed
        assert len({r.conn for r in results["keepalive"]}) == 1, "keep-alive was not kept"
    st = results["static"][0]
    assert st.body_len == srv.static_size and st.resume_ns is not None, st

    lines = request_lines(gp)
    for r in lines:
        check_request_well_formed(r)
    pairs, problems = match_requests(lines, sent, srv.handled())
    truth = gc_truth(gp, srv, attach, stop_ns)
    for r, cl, h in pairs:
        if r["pid"] not in truth:
            problems.append(f"{cl.path}: reported for pid {r['pid']}, not a traced worker")
            continue
        problems += check_pair(r, cl, h, truth[r["pid"]])
    skipped = sum(check_request_gc(r, truth[r["pid"]])[1] is None
                  for r, _, _ in pairs if r["pid"] in truth)
    if skipped > len(pairs) // 4:
        problems.append(f"{skipped} of {len(pairs)} requests near a callback far from its "
                        f"markers: the direct comparison with the callbacks checks little")
    # Requests on one client connection are one (pid, fd) on the server.
    conns = {}
    for r, cl, _ in pairs:
        conns.setdefault(cl.conn, set()).add((r["pid"], r["fd"]))
    problems += [f"client connection {k} reported as {v}" for k, v in conns.items() if len(v) > 1]

    # The 8 MiB static file, written with sendfile (gunicorn-sync) or plain writes: the response
    # cannot have been written completely before the client, reading through a 64 KiB buffer,
    # resumed reading.
    for r, cl, _ in pairs:
        if cl is st and r["end_ns"] < st.resume_ns:
            problems.append(f"/static: end_ns {r['end_ns']} before the client resumed reading "
                            f"({st.resume_ns}): its last write was not the end")
    # Requests queued behind a full collection: at least one of the burst's /work requests
    # arrived while a collection ran and was read after it.
    burst = [(r, cl) for r, cl, _ in pairs
             if any(cl is b for b in results["burst"]) and "/work/" in cl.path]
    queued = []
    for r, cl in burst:
        before = [e for e in (truth[r["pid"]].events if r["pid"] in truth else [])
                  if e["start_ns"] < r["start_ns"] and event_end(e) > r["arrival_ns"]]
        if before:
            queued.append(r)
            if not (r["queue_ns"] > 0 and r["gc_count"] >= len(before)):
                problems.append(f"{cl.path}: queued behind {len(before)} collections, yet {r}")
    if not queued:
        problems.append(f"no request of the burst was queued behind a collection: {burst}")
    if not any(e["gen"] == 2 for t in truth.values() for e in t.events):
        problems.append("no generation-2 collection while traced")

    for what, check, args in (
            [(f"summary of pid {pid}", check_http_summary,
              (total, pid, [r for r in lines if r["pid"] == pid])) for pid in srv.workers]
            + [("summary", check_http_totals, (total, len(garbage)))]):
        try:
            check(*args)
        except (AssertionError, KeyError, TypeError) as e:
            problems.append(f"{what}: {type(e).__name__}: {e}")
    assert not problems, f"{kind}: {len(problems)} problems in {len(lines)} request lines:\n  " \
        + "\n  ".join(problems[:30])


# --------------------------------------------------------------------------
# Load: wrk
# --------------------------------------------------------------------------

WRK = "/usr/bin/wrk"
WRK_ARGS = ["-t2", "-c8", "-d5s", "--timeout", "5s"]
WRK_CONNS = 8


@pytest.mark.parametrize("kind", LOAD_KINDS)
def test_load_gc_hit_requests_are_slower(procs, server_factory, http_gcpause, kind):
    # A small heap and little garbage per request: many requests see no collection at all.
    srv = server_factory(kind, heap=100000, cycles=20, keep=5)
    gp, attach = start_tracing(procs, srv.workers)
    wrk = popen(procs, [WRK] + WRK_ARGS + [f"http://127.0.0.1:{srv.port}/work/wrk"])
    try:
        out, err = wrk.communicate(timeout=30)
    except Exception:
        wrk.kill()
        raise
    assert wrk.returncode == 0, f"wrk failed: {out} {err}"
    m = re.search(r"(\d+) requests in", out)
    assert m, out
    wrk_count = int(m.group(1))
    time.sleep(0.5)
    stop_ns, total = finish(gp, srv, srv.workers)

    lines = request_lines(gp)
    handled = [h for h in srv.handled() if h["id"] == "wrk"]
    assert all(r["path"] == "/work/wrk" and r["method"] == "GET" for r in lines), \
        [r for r in lines if r["path"] != "/work/wrk"][:5]
    # wrk counts only the responses it read before its deadline; the app, every handler run;
    # requests cut off at the deadline may have had their response written or not.
    assert wrk_count <= len(lines) <= len(handled), (wrk_count, len(lines), len(handled))
    assert len(lines) >= len(handled) - WRK_CONNS, (len(lines), len(handled))
    assert len(lines) > 200, f"only {len(lines)} requests in 5 s"

    truth = gc_truth(gp, srv, attach, stop_ns)
    problems, skipped = [], 0
    for r in lines:
        check_request_well_formed(r)
        assert r["status"] == 200, r
        assert r["pid"] in truth, f"request of pid {r['pid']}, not a traced worker: {r}"
        exact, cb = check_request_gc(r, truth[r["pid"]])
        problems += [f"request {r}: {p}" for p in exact + (cb or [])]
        skipped += cb is None
    assert not problems, \
        f"{kind}: {len(problems)} of {len(lines)} requests:\n  " + "\n  ".join(problems[:10])
    assert skipped <= len(lines) // 4, \
        f"{kind}: {skipped} of {len(lines)} requests near a callback far from its markers"

    hit = [r["latency_ns"] for r in lines if r["gc_count"] > 0]
    clean = [r["latency_ns"] for r in lines if r["gc_count"] == 0]
    assert len(hit) >= 20 and len(clean) >= 20, (len(hit), len(clean))
    assert statistics.median(hit) > statistics.median(clean), (
        f"{kind}: median latency of requests overlapping a collection "
        f"{statistics.median(hit)} ns <= that of clean ones {statistics.median(clean)} ns")
    for pid in srv.workers:
        check_http_summary(total, pid, [r for r in lines if r["pid"] == pid])
    check_http_totals(total)


# --------------------------------------------------------------------------
# What of a path is kept
# --------------------------------------------------------------------------

def test_secrets_in_paths_not_kept(procs, server_factory, http_gcpause):
    """Userinfo, session parameters and an encoded query reach a real server; none of them
    reaches gcpause's output, text or JSON, and the rest of each path does (docs/http.md)."""
    srv = server_factory("gunicorn-sync")
    gp, _ = start_tracing(procs, srv.workers)
    tag = uuid.uuid4().hex[:6]
    host = f"127.0.0.1:{srv.port}"
    sent = {
        f"http://alice:PASSW0RDa@{host}/work/{tag}ui000": f"http://{host}/work/{tag}ui000",
        f"/work/{tag}js000;jsessionid=SECRETb": f"/work/{tag}js000",
        f"/work/{tag}ms000;v=1;JSESSIONID=SECRETc;w=2": f"/work/{tag}ms000;v=1;w=2",
        f"/work/{tag}pq000%3Ftoken=SECRETd": f"/work/{tag}pq000",
        f"/work/{tag}ph000;PHPSESSID=SECRETe/x": f"/work/{tag}ph000/x",
        f"/work/{tag}fin000": f"/work/{tag}fin000",
    }
    c = http_client.Client("127.0.0.1", srv.port)
    results = c.new_connections(list(sent))
    assert all(r.status is not None for r in results), [r for r in results if r.status is None]
    gp.wait_record(lambda r: r.get("type") == "request" and
                   r.get("path") == f"/work/{tag}fin000", 10, "the last request's line")
    time.sleep(0.2)
    finish(gp, srv, srv.workers)
    out = "\n".join(gp.out.snapshot() + gp.err.snapshot())
    for secret in ("PASSW0RD", "alice", "SECRET", "%3F", "token"):
        assert secret not in out, f"{secret!r} kept: " + \
            "\n".join(l for l in out.splitlines() if secret in l)[:2000]
    paths = sorted(r["path"] for r in request_lines(gp) if tag in r["path"])
    assert paths == sorted(sent.values()), paths
    # Routes are templates: the ids go, what is left of each path stays.
    summary_routes = {x["route"] for p in gp.total()["processes"] if p.get("http")
                      for x in p["http"]["routes"]}
    assert summary_routes == {f"http://{host}/work/{{id}}", "/work/{id}", "/work/{id};v=1;w=2",
                              "/work/{id}/x"}, summary_routes


# --------------------------------------------------------------------------
# The text report
# --------------------------------------------------------------------------

def test_text_report(procs, server_factory, http_gcpause):
    """Without --json: per worker and for all of them, request counts that add up."""
    srv = server_factory("gunicorn-sync")
    gp = Gcpause(procs, ["--http"] + [a for p in srv.workers for a in ("-p", p)],
                 json_mode=False)
    gp.err.wait_for(lambda l: "Ctrl-C to stop" in l, 30, "the tracing line")
    c = http_client.Client("127.0.0.1", srv.port)
    sent = c.new_connections([f"/work/text{i:03d}" for i in range(40)])
    assert all(r.ok for r in sent), [r for r in sent if not r.ok]
    time.sleep(0.3)
    assert gp.stop() == 0, gp.err.snapshot()
    lines = gp.out.snapshot()
    # "    all   <count> <p50> <p95> <p99> <max>" rows, one per worker and one for all of them.
    counts = [int(l.split()[1]) for l in lines if l.startswith("    all ") and
              len(l.split()) == 6]
    assert len(counts) == len(srv.workers) + 1, lines
    assert sum(counts[:-1]) == counts[-1] == len(sent), (counts, len(sent))
    assert any(l.startswith(f"all {len(srv.workers)} processes") for l in lines), lines
    # The ids are templated away: one route for all of them.
    routes = [l.split() for l in lines if l.split()[:1] == ["GET"]]
    counts = [int(r[2]) for r in routes if r[1] == "/work/{id}"]
    assert counts and counts[-1] == len(sent) and sum(counts[:-1]) == len(sent), routes
    assert not [r for r in routes if "text" in r[1]], routes
    assert any(l.startswith("requests not assembled: 0") for l in lines), lines


def test_interval_summaries_add_up(procs, server_factory, http_gcpause):
    """With -i, each summary's http figures are its interval's: they add up to the total."""
    srv = server_factory("gunicorn-sync")
    gp = Gcpause(procs, ["--http", "-i", "0.3"] + [a for p in srv.workers for a in ("-p", p)])
    for pid in srv.workers:
        gp.wait_attach(pid)
    c = http_client.Client("127.0.0.1", srv.port)
    sent = []
    for i in range(4):
        sent += c.new_connections([f"/work/iv{i}{j:02d}" for j in range(10)])
        time.sleep(0.35)
    assert all(r.ok for r in sent), [r for r in sent if not r.ok]
    time.sleep(0.4)
    assert gp.stop() == 0, gp.err.snapshot()
    intervals = gp.summaries("interval")
    total = gp.total()
    assert len(intervals) >= 3, len(intervals)
    assert total["http_all"]["requests"] == len(sent) == len(request_lines(gp))
    assert sum(s["http_all"]["requests"] for s in intervals) == len(sent), \
        [s["http_all"]["requests"] for s in intervals]
    # Requests came in several intervals, so no interval can hold them all.
    assert max(s["http_all"]["requests"] for s in intervals) < len(sent)
    for pid in srv.workers:
        per_pid = [summary_process(s, pid)["http"]["requests"] for s in intervals]
        assert sum(per_pid) == summary_process(total, pid)["http"]["requests"], per_pid


# --------------------------------------------------------------------------
# Threaded servers: a connection per request, fds reused across threads
# --------------------------------------------------------------------------

THREADED_KINDS = ("gunicorn-gthread", "stdlib-threaded")


def parallel_new_connections(c, paths, threads=8):
    """Each path on a connection of its own, from `threads` client threads at once."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(threads) as pool:
        return list(pool.map(lambda p: c.one(p), paths))


@pytest.mark.parametrize("kind", THREADED_KINDS)
def test_threaded_server_loses_nothing(procs, server_factory, http_gcpause, kind):
    """Thread A's close of fd N can reach gcpause after thread B accepted the next connection
    on fd N and read its request: every answered request must still be reported exactly once,
    with its method, path and status, and nothing left unassembled."""
    srv = server_factory(kind, heap=50000, cycles=300, keep=200)
    gp, attach = start_tracing(procs, srv.workers)
    c = http_client.Client("127.0.0.1", srv.port)
    sent = parallel_new_connections(c, [f"/work/th{i:05d}" for i in range(1500)])
    assert all(r.ok for r in sent), [r for r in sent if not r.ok][:5]
    time.sleep(0.3)
    stop_ns, total = finish(gp, srv, srv.workers)
    lines = request_lines(gp)
    for r in lines:
        check_request_well_formed(r)
    pairs, problems = match_requests(lines, sent, srv.handled(), static_paths=())
    assert not problems, f"{kind}: {len(problems)} problems: {problems[:5]}"
    for r, c_res, h in pairs:
        assert (r["method"], r["path"], r["status"]) == ("GET", c_res.path, 200), r
    check_http_totals(total, unassembled={})


# --------------------------------------------------------------------------
# Methods beyond the fixed list, and deep pipelines
# --------------------------------------------------------------------------

TOKEN_METHODS = ("PROPFIND", "REPORT", "MKCALENDAR", "MKCOL", "PROPPATCH", "MOVE", "COPY",
                 "LOCK", "X-Ext_1.0")


@pytest.mark.parametrize("kind", ("gunicorn-sync", "uvicorn", "hypercorn", "tornado"))
def test_any_token_method(procs, server_factory, http_gcpause, kind):
    """WebDAV, CalDAV and extension methods are requests like GET: each one answered (the
    Flask app and tornado say 405, the ASGI app on uvicorn or hypercorn 200) is reported once
    with its method, path and status."""
    srv = server_factory(kind, heap=50000, cycles=300, keep=200)
    gp, attach = start_tracing(procs, srv.workers)
    c = http_client.Client("127.0.0.1", srv.port)
    sent = [c.one(f"/work/m{i:03d}x{j}", method=m)
            for j in range(3) for i, m in enumerate(TOKEN_METHODS)]
    assert all(r.ok for r in sent), [r for r in sent if not r.ok][:5]
    time.sleep(0.3)
    stop_ns, total = finish(gp, srv, srv.workers)
    lines = request_lines(gp)
    for r in lines:
        check_request_well_formed(r)
    pairs, problems = match_requests(lines, sent, srv.handled(), static_paths=())
    assert not problems, problems[:5]
    for r, c_res, h in pairs:
        assert (r["method"], r["path"], r["status"]) == (c_res.method, c_res.path,
                                                         c_res.status), r
    assert {r["method"] for r in lines} == set(TOKEN_METHODS)
    check_http_totals(total, non_http=0, unassembled={})


@pytest.mark.parametrize("kind", ("uvicorn", "uvicorn-uvloop", "hypercorn", "tornado"))
def test_deep_pipelines(procs, server_factory, http_gcpause, kind):
    """5 connections with 100 pipelined requests each: all 500 reported, each once, with its
    own path, nothing cut or unassembled."""
    srv = server_factory(kind, heap=50000, cycles=300, keep=200)
    gp, attach = start_tracing(procs, srv.workers)
    c = http_client.Client("127.0.0.1", srv.port)
    sent = []
    for k in range(5):
        sent += c.pipelined([f"/work/p{k}q{i:03d}" for i in range(100)])
    assert all(r.ok for r in sent), [r for r in sent if not r.ok][:5]
    time.sleep(0.3)
    stop_ns, total = finish(gp, srv, srv.workers)
    lines = request_lines(gp)
    assert len(lines) == 500, len(lines)
    pairs, problems = match_requests(lines, sent, srv.handled(), static_paths=())
    assert not problems, problems[:5]
    for r, c_res, h in pairs:
        assert (r["method"], r["path"], r["status"]) == ("GET", c_res.path, 200), r
    check_http_totals(total, non_http=0, unassembled={})


# --------------------------------------------------------------------------
# A pool as one service, and telling its processes apart
# --------------------------------------------------------------------------

def test_pool_as_one_service(procs, server_factory, http_gcpause):
    """gunicorn's master and two workers: `list` names the master, the workers, their parent,
    port and command line; the summary's pool figures add the workers' GC and requests."""
    srv = server_factory("gunicorn-sync", heap=50000, cycles=3000, keep=2000)
    master = srv.proc.pid
    res = run_gcpause([GCPAUSE, "list", "--json"] +
                      [a for p in [master] + srv.workers for a in ("-p", p)])
    assert res.returncode == 0, res.stderr
    rows = {r["pid"]: r for r in map(json.loads, res.stdout.splitlines())}
    assert rows[master]["role"] == "master", rows[master]
    assert srv.port in rows[master]["listen_ports"], rows[master]
    assert rows[master]["service"] == f"pool:{master}", rows[master]
    for w in srv.workers:
        assert rows[w]["role"] == "worker" and rows[w]["ppid"] == master, rows[w]
        assert rows[w]["service"] == f"pool:{master}", rows[w]
        assert srv.port in rows[w]["listen_ports"], rows[w]
        assert "gunicorn" in rows[w]["cmdline"] and "app:wsgi" in rows[w]["cmdline"], rows[w]
    text = run_gcpause([GCPAUSE, "list", "-p", master])
    assert "master" in text.stdout and str(srv.port) in text.stdout, text.stdout

    gp, attach = start_tracing(procs, srv.workers)
    c = http_client.Client("127.0.0.1", srv.port)
    sent = c.new_connections([f"/work/pool{i:03d}" for i in range(60)])
    assert all(r.ok for r in sent), [r for r in sent if not r.ok][:3]
    time.sleep(0.3)
    stop_ns, total = finish(gp, srv, srv.workers)
    events = [e for e in gp.events() if e["pid"] in srv.workers]
    pool = total["http_all"]["gc_vs_requests"]
    assert pool["processes"] == 2 and pool["requests"] == 60, pool
    assert pool["collections"] == len(events) > 0, (pool, len(events))
    assert pool["pause_ns"] == sum(e["duration_ns"] for e in events), pool
    assert pool["per_1000_requests"]["collections"] == pytest.approx(len(events) * 1000 / 60)
    # Sync workers run one thread: CPU time is at most wall time, so GC's share of CPU time
    # is at least its share of wall time.
    assert 0 < pool["share_of_wall"] <= pool["share_of_cpu"], pool
    for w in srv.workers:
        own = summary_process(total, w)["http"]["gc_vs_requests"]
        assert own["processes"] == 1
        assert own["collections"] == sum(e["pid"] == w for e in events), own
