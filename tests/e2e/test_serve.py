# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""`gcpause serve`: the Prometheus exporter, checked against the workloads' own ground truth.

Every workload runs the interpreter through a symlink with a name unique to the test
(tmp/bin/gsXXXXX-a -> /usr/bin/python3.11): the kernel's comm, hence the series' command
label, is the link's name, while the probed binary (its inode) stays Debian's python3.11. Other
Python processes of the machine (other developers' tests) may be in the same /metrics; every
check selects its series by these unique command labels, or runs with --comm so that only the
test's own processes are traced.

An interpreter of the same binary with a matching name is always running before the agent
starts, so that the binary is probed by the start-up scan and every workload started later is
traced from its very first collection: each series' counts are then equal to the workload's
gc.get_stats() since interpreter start (the workloads leave with os._exit after their last
snapshot, with the collector disabled: no collection follows it).

  test_prometheus_end_to_end   a real Prometheus scraping serve --all: counts, histogram,
                               collected objects exact; pause sums bounded by the callbacks;
                               what Prometheus stored equal to /metrics; promtool clean
  test_per_pid                 --per-pid: a series per process, its pid label, its own counts
  test_series_expiry           --expire 2: an exited process's series stays, then goes; a live
                               one stays; a new process under that label starts from zero
  test_http_gunicorn           --http on a real gunicorn: requests by GC overlap, exactly as
                               the app saw them; GC time inside requests
  test_programs_told_apart     a hypercorn, a tornado and a plain script, all command
                               "python3.11": three series told apart by `program`; `list`
                               shows each one's command line
  test_endpoints_and_errors    /healthz, 404, a busy --listen port, SIGTERM
"""

import json
import re
import signal
import socket
import subprocess
import sys
import time
import uuid
from decimal import Decimal

import pytest

from conftest import GCPAUSE, PYTHON, REPO, Gcpause, Workload, popen, run_gcpause
from prom import Prometheus, Scrape, fetch, promtool_check, wait_until

sys.path.insert(0, str(REPO / "tests" / "http"))
import client as http_client  # noqa: E402
import servers  # noqa: E402

READY_TIMEOUT = 30
GENS = (0, 1, 2)
PY_VERSION = "3.11.2"
METRICS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
# Labels a per-process series may have (container metadata is left out when empty).
SERIES_LABELS = {"namespace", "pod", "pod_uid", "container_id", "command", "program", "service",
                 "python_version",
                 "pid"}
# See test_http.py: the server's last write may return after the client has the bytes.
RECV_SLACK_NS = 5_000_000
# A regression these tests would catch (fixed in 8e0f4d2; before it, about 1 process in 50-100
# started while the agent ran, more at its start-up scan or under scrapes).
STALE_EXEC = (
    "an exec event read after its process was already traced (by the start-up scan, or from "
    "its first collection, read first) was taken for a new exec: \"replaced its program "
    "(exec)\", the process left the BPF filter and was traced again, and "
    "gcpause_processes_discovered_total counted it twice")


# --------------------------------------------------------------------------
# Fixtures and helpers
# --------------------------------------------------------------------------

@pytest.fixture
def tag():
    """A prefix for this test's command names: "gs" and 5 hex digits."""
    return "gs" + uuid.uuid4().hex[:5]


@pytest.fixture
def pythons(tmp_path, tag):
    """pythons("a"): a symlink <tag>-a -> python3.11, whose processes' comm is "<tag>-a"."""
    bindir = tmp_path / "bin"
    bindir.mkdir()

    def make(suffix):
        link = bindir / f"{tag}-{suffix}"
        assert len(link.name) <= 15, f"{link.name}: a comm holds 15 characters"
        if not link.is_symlink():
            link.symlink_to(PYTHON)
        return link
    return make


def idle_python(procs, python):
    """An interpreter that does nothing until its stdin closes (ProcessSet kills it anyway)."""
    return popen(procs, [python, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE)


class Serve:
    """A running `gcpause serve --listen 127.0.0.1:0 ARGS`, once it said it is ready."""

    def __init__(self, procs, *args):
        self.t_start_wall = time.time()
        self.g = Gcpause(procs, ["serve", "--listen", "127.0.0.1:0", *args], json_mode=False)
        self.err = self.g.err
        line = self.err.wait_for(lambda l: "serving /metrics" in l, READY_TIMEOUT,
                                 "the serving line")
        m = re.fullmatch(r"gcpause: serving /metrics and /healthz on 127\.0\.0\.1:0 "
                         r"\(port (\d+)\)", line)
        assert m, f"unexpected serving line {line!r}; stderr: {self.err.snapshot()[-10:]}"
        self.t_serving_wall = time.time()
        self.port = int(m.group(1))
        assert 0 < self.port < 65536
        self.url = f"http://127.0.0.1:{self.port}"
        self.ready = self.err.wait_for(lambda l: l.endswith("; Ctrl-C to stop"),
                                       READY_TIMEOUT, "the ready line")
        assert re.fullmatch(r"gcpause: \d+ process(es)?, \d+ binar(y|ies) probed; "
                            r"Ctrl-C to stop", self.ready), self.ready

    def lines(self):
        return self.err.snapshot()

    def wait_traced(self, pid, comm, timeout=15):
        prefix = f"gcpause: tracing pid {pid} ("
        line = self.err.wait_for(lambda l: l.startswith(prefix), timeout,
                                 f"the tracing line of pid {pid}")
        assert line.startswith(f"{prefix}{comm}, Python {PY_VERSION}, /usr/bin/python3.11, "
                               f"usdt: "), line
        return line

    def wait_exited(self, pid, comm, timeout=15):
        want = f"gcpause: pid {pid} ({comm}) exited"
        return self.err.wait_for(lambda l: l == want, timeout, f"{want!r}")

    def check_lifecycle_lines(self, pid, comm):
        """One tracing line and one exit line for pid, and nothing else about it."""
        mine = [l for l in self.lines() if re.match(rf"gcpause: (tracing )?pid {pid} ", l)]
        # The workloads exec once: this line would be STALE_EXEC.
        assert f"gcpause: pid {pid} ({comm}) replaced its program (exec)" not in mine, \
            f"pid {pid}: {STALE_EXEC}\n{mine}"
        assert len(mine) == 2 and mine[0].startswith(f"gcpause: tracing pid {pid} ({comm},") \
            and mine[1] == f"gcpause: pid {pid} ({comm}) exited", \
            f"pid {pid}: expected one tracing and one exit line, got {mine}"

    def scrape(self):
        status, ctype, body = fetch(self.url + "/metrics")
        assert status == 200, f"/metrics: HTTP {status}: {body[:300]}"
        assert ctype == METRICS_CONTENT_TYPE, f"/metrics content type {ctype!r}"
        return Scrape(body)

    def stop(self, sig=signal.SIGINT, timeout=10):
        rc = self.g.stop(sig, timeout)
        assert self.g.out.snapshot() == [], f"serve printed on stdout: {self.g.out.snapshot()}"
        return rc


def run_workloads(procs, tmp_path, specs):
    """Starts the workloads [(python, args)] together; waits for their exits. Each comes back
    as (Workload, ground truth, spawn time on CLOCK_MONOTONIC)."""
    started = []
    for python, args in specs:
        t0 = time.monotonic_ns()
        w = Workload(procs, tmp_path, "--explicit", "--hard-exit", *args, wait=False,
                     prefix=(python,))
        started.append((w, t0, python.name))
    out = []
    for w, t0, comm in started:
        rc = w.wait(60)
        assert rc == 0, f"workload {w.pid} exited with {rc}: {w.err.snapshot()}"
        gt = w.result()
        assert gt["pid"] == w.pid and gt["version"] == PY_VERSION, gt["pid"]
        out.append((w, gt, t0, comm))
    return out


def check_ground_truth(gt):
    """What the comparisons below rely on: every generation collected, and the collections the
    callbacks missed are only those before the callback was installed."""
    after = [gt["stats_after"][g]["collections"] for g in GENS]
    assert all(after), f"pid {gt['pid']}: a generation was never collected: {after}"
    recorded = [sum(1 for c in gt["collections"] if c["gen"] == g) for g in GENS]
    assert all(r <= a for r, a in zip(recorded, after)), (recorded, after)


def check_gc_series(scrape, labels, works, what):
    """A series holding exactly these workloads' whole lives, against their ground truth.

    labels: the series' labels (None: must be absent); works: [(Workload, gt, spawn_ns, comm)].
    Counts and collected objects are exact. The pause sums are bounded: the markers lie inside
    the callbacks, so a recorded collection's pause is at most its callback interval; those
    before the callback was installed lie between the spawn and the first snapshot.
    """
    gts = [gt for _, gt, _, _ in works]
    for gt in gts:
        check_ground_truth(gt)
    for g in GENS:
        w = f"{what} generation {g}"
        want = sum(gt["stats_after"][g]["collections"] for gt in gts)
        want_collected = sum(gt["stats_after"][g]["collected"] +
                             gt["stats_after"][g]["uncollectable"] for gt in gts)
        count = scrape.int("gcpause_gc_collections_total", **labels, generation=g)
        assert count == want, \
            f"{w}: gcpause_gc_collections_total {count} != gc.get_stats() {want}"
        h = scrape.histogram("gcpause_gc_pause_seconds", **labels, generation=g)
        h.check(w)
        assert h.count == want, f"{w}: gcpause_gc_pause_seconds_count {h.count} != {want}"
        collected = scrape.int("gcpause_gc_collected_objects_total", **labels, generation=g)
        assert collected == want_collected, (
            f"{w}: gcpause_gc_collected_objects_total {collected} != gc.get_stats() "
            f"collected + uncollectable {want_collected}")
        pause_total = scrape.dec("gcpause_gc_pause_time_seconds_total", **labels, generation=g)
        assert pause_total == h.sum, \
            f"{w}: gcpause_gc_pause_time_seconds_total {pause_total} != _sum {h.sum}"

        sum_ns = h.sum * 10**9
        assert sum_ns == sum_ns.to_integral_value(), f"{w}: _sum {h.sum} is not whole ns"
        cbs = [c for gt in gts for c in gt["collections"] if c["gen"] == g]
        upper = sum(c["end_ns"] - c["start_ns"] for c in cbs)
        for _, gt, spawn_ns, _ in works:
            if gt["stats_after"][g]["collections"] > sum(1 for c in gt["collections"]
                                                         if c["gen"] == g):
                upper += gt["window_start_ns"] - spawn_ns
        assert 0 < sum_ns <= upper, \
            f"{w}: pause sum {sum_ns} ns not in (0, {upper}] (callback intervals + start-up)"
        # A pause is at most its callback interval: a bucket holds at least the collections
        # whose callback interval is within its bound.
        for le_ns in h.bounds_ns():
            at_least = sum(1 for c in cbs if c["end_ns"] - c["start_ns"] <= le_ns)
            got = h.cumulative(le_ns)
            assert got >= at_least, (f"{w}: bucket le={le_ns / 1e9} holds {got} collections, "
                                     f"yet {at_least} callback intervals were shorter")
    assert not scrape.find("gcpause_gc_collections_total", **labels, generation="other"), what


def check_series_labels(scrape, command, per_pid):
    """Every sample of command's series: only series labels (and the family's own)."""
    samples = [s for s in scrape.samples if s.labels.get("command") == command]
    assert samples, f"no series with command={command!r}"
    for s in samples:
        own = set(s.labels) - SERIES_LABELS
        assert own <= {"generation", "le", "gc"}, s
        assert s.labels["python_version"] == PY_VERSION, s
        assert ("pid" in s.labels) == per_pid, s
    return samples


def check_promtool(scrape):
    """promtool check metrics: parse errors and lint problems (naming, units, HELP) alike."""
    rc, out = promtool_check(scrape.text)
    assert rc == 0 and out == "", f"promtool check metrics exited {rc}:\n{out[:3000]}"


# --------------------------------------------------------------------------
# 1. Prometheus end to end
# --------------------------------------------------------------------------

def test_prometheus_end_to_end(procs, tmp_path, tag, pythons):
    idle = idle_python(procs, pythons("idle"))
    sv = Serve(procs)                       # serve alone means --all
    sv.wait_traced(idle.pid, f"{tag}-idle")
    lines = sv.lines()
    assert lines.index(sv.ready) > next(i for i, l in enumerate(lines)
                                        if l.startswith(f"gcpause: tracing pid {idle.pid} ")), \
        "the running interpreter was not traced by the start-up scan"

    prometheus = Prometheus(procs, tmp_path / "prometheus", [f"127.0.0.1:{sv.port}"])
    try:
        prometheus.start()
        _prometheus_end_to_end(sv, prometheus, procs, tmp_path, tag, pythons, idle)
    finally:
        prometheus.cleanup()
    assert sv.stop() == 0, sv.lines()[-10:]


def _prometheus_end_to_end(sv, prometheus, procs, tmp_path, tag, pythons, idle):
    # Two workloads share the "b" label set: their series holds both.
    works = run_workloads(procs, tmp_path, [
        (pythons("a"), ["--rounds", "30", "--heap", "20000"]),
        (pythons("b"), ["--rounds", "20", "--heap", "50000"]),
        (pythons("b"), ["--rounds", "40", "--cycles", "500", "--explicit-every", "5"]),
    ])
    for w, _, _, comm in works:
        sv.wait_exited(w.pid, comm)
        sv.check_lifecycle_lines(w.pid, comm)
    t_exited_wall = time.time()

    by_comm = {}
    for work in works:
        by_comm.setdefault(work[3], []).append(work)
    raw = sv.scrape()
    for comm, group in by_comm.items():
        check_series_labels(raw, comm, per_pid=False)
        check_gc_series(raw, {"command": comm, "pid": None}, group, comm)
        assert raw.int("gcpause_python_processes", command=comm) == 0, comm
    assert raw.int("gcpause_python_processes", command=f"{tag}-idle") == 1
    assert not [s for s in raw.samples if "pid" in s.labels], \
        "a pid label without --per-pid"
    assert raw.int("gcpause_events_dropped_total", source="gc") == 0
    assert raw.int("gcpause_events_dropped_total", source="discovery") == 0
    assert raw.int("gcpause_processes_discovered_total") >= 1 + len(works)
    assert raw.int("gcpause_processes_traced") >= 1
    assert raw.int("gcpause_binaries_probed") >= 1
    assert raw.int("gcpause_series") >= 3
    build = raw.one("gcpause_build_info")
    assert build.value == "1" and list(build.labels) == ["version"], build
    version = run_gcpause([GCPAUSE, "-V"]).stdout.split()
    assert version == ["gcpause", build.labels["version"]], (version, build)
    start = raw.dec("gcpause_start_time_seconds")
    assert Decimal(sv.t_start_wall) - Decimal("0.001") <= start <= \
        Decimal(sv.t_serving_wall) + Decimal("0.001"), (sv.t_start_wall, start)
    check_promtool(raw)

    # What Prometheus stored: a scrape that began after the exits (so after every collection
    # was counted) for each of the test's series, equal to /metrics.
    ours = {(s.name, frozenset(s.labels.items())): s.value for s in raw.samples
            if s.labels.get("command", "").startswith(f"{tag}-")}
    selector = f'{{__name__=~"gcpause_.+",command=~"{tag}-.+"}}'

    def scraped_after_exit():
        res = prometheus.query(selector + "[30s]")
        if len(res) != len(ours):
            return None
        if any(float(r["values"][-1][0]) <= t_exited_wall for r in res):
            return None
        return res

    stored = wait_until(scraped_after_exit, 30,
                        f"a Prometheus scrape of every {tag}-* series after the exits "
                        f"({len(ours)} series in /metrics)", interval=0.2)
    problems = []
    for r in stored:
        labels = dict(r["metric"])
        name = labels.pop("__name__")
        assert labels.pop("job") == "gcpause" and labels.pop("instance") == \
            f"127.0.0.1:{sv.port}", r["metric"]
        key = (name, frozenset(labels.items()))
        if key not in ours:
            problems.append(f"stored series {name}{labels} is not in /metrics")
            continue
        values = [float(v) for _, v in r["values"]]
        if values[-1] != float(ours[key]):
            problems.append(f"{name}{labels}: stored {values[-1]} != /metrics {ours[key]}")
        if name != "gcpause_python_processes" and values != sorted(values):
            problems.append(f"{name}{labels}: a counter went down in Prometheus: {values}")
    assert not problems, "\n  ".join(problems[:20])

    for comm, group in by_comm.items():
        want = sum(gt["stats_after"][g]["collections"] for _, gt, _, _ in group for g in GENS)
        res = prometheus.query(f'sum by (command) (gcpause_gc_collections_total'
                               f'{{command="{comm}"}})')
        assert len(res) == 1 and float(res[0]["value"][1]) == want, (comm, res, want)
        res = prometheus.query(f'gcpause_python_processes{{command="{comm}"}}')
        assert len(res) == 1 and res[0]["value"][1] == "0", (comm, res)
    for q, check in (('gcpause_events_dropped_total{source="gc"}', lambda v: v == 0),
                     ("gcpause_processes_discovered_total", lambda v: v >= 1 + len(works)),
                     (f'gcpause_python_processes{{command="{tag}-idle"}}', lambda v: v == 1),
                     ('up{job="gcpause"}', lambda v: v == 1)):
        res = prometheus.query(q)
        assert len(res) == 1 and check(float(res[0]["value"][1])), (q, res)
    targets = prometheus.api("targets", state="active")["activeTargets"]
    assert len(targets) == 1, targets
    assert targets[0]["health"] == "up" and targets[0]["lastError"] == "", targets[0]
    assert targets[0]["scrapeUrl"] == f"{sv.url}/metrics", targets[0]
    assert idle.poll() is None, "the idle interpreter died"


# --------------------------------------------------------------------------
# 2. --per-pid
# --------------------------------------------------------------------------

def test_per_pid(procs, tmp_path, tag, pythons):
    idle = idle_python(procs, pythons("idle"))
    sv = Serve(procs, "--per-pid", "--comm", f"{tag}-*")
    assert sv.ready == "gcpause: 1 process, 1 binary probed; Ctrl-C to stop", sv.ready
    sv.wait_traced(idle.pid, f"{tag}-idle")
    # The same command: only the pid label tells their series apart.
    works = run_workloads(procs, tmp_path, [
        (pythons("p"), ["--rounds", "30", "--heap", "20000"]),
        (pythons("p"), ["--rounds", "15", "--heap", "40000"]),
    ])
    for w, _, _, comm in works:
        sv.wait_exited(w.pid, comm)
        sv.check_lifecycle_lines(w.pid, comm)

    raw = sv.scrape()
    samples = check_series_labels(raw, f"{tag}-p", per_pid=True)
    assert {s.labels["pid"] for s in samples} == {str(w.pid) for w, _, _, _ in works}
    for work in works:
        w = work[0]
        check_gc_series(raw, {"command": f"{tag}-p", "pid": w.pid}, [work], f"pid {w.pid}")
        assert raw.int("gcpause_python_processes", command=f"{tag}-p", pid=w.pid) == 0
    check_series_labels(raw, f"{tag}-idle", per_pid=True)
    assert raw.int("gcpause_python_processes", command=f"{tag}-idle", pid=idle.pid) == 1
    # Every series of the page is one of the three processes': --comm kept out the others.
    series_samples = [s for s in raw.samples if "command" in s.labels]
    assert {(s.labels["command"], s.labels.get("pid")) for s in series_samples} == \
        {(f"{tag}-idle", str(idle.pid))} | {(f"{tag}-p", str(w.pid)) for w, _, _, _ in works}
    assert raw.int("gcpause_series") == 3
    assert raw.int("gcpause_processes_traced") == 1
    assert raw.int("gcpause_processes_discovered_total") == 3, STALE_EXEC
    assert raw.int("gcpause_processes_skipped_total", reason="filtered") >= 1, \
        "this pytest (python3.11) should have been filtered out by --comm"
    assert raw.int("gcpause_events_dropped_total", source="gc") == 0
    check_promtool(raw)
    assert sv.stop() == 0


# --------------------------------------------------------------------------
# 3. Series expiry
# --------------------------------------------------------------------------

def test_series_expiry(procs, tmp_path, tag, pythons):
    live = idle_python(procs, pythons("live"))
    sv = Serve(procs, "--expire", "2", "--comm", f"{tag}-*")
    sv.wait_traced(live.pid, f"{tag}-live")
    comm = f"{tag}-w"

    def run_one(rounds):
        # Let go once traced: a process that lives ~50 ms may exit before a loaded machine's
        # agent has looked at it (its collections then count as lost.unattributed; fleet.md),
        # and this test is about the series' expiry, not about that race.
        t0 = time.monotonic_ns()
        w = Workload(procs, tmp_path, "--explicit", "--hard-exit", "--rounds", str(rounds),
                     prefix=(pythons("w"),))
        w.wait_ready()
        sv.wait_traced(w.pid, comm)
        w.go()
        w.wait_done()
        assert w.finish() == 0, w.err.snapshot()
        gt = w.result()
        assert gt["pid"] == w.pid and gt["version"] == PY_VERSION, gt["pid"]
        sv.wait_exited(w.pid, comm)
        return [(w, gt, t0, comm)], time.monotonic_ns()

    first, t_exit_seen = run_one(20)
    # Right after the exit: the series is there, with every collection, no process in it.
    raw = sv.scrape()
    check_gc_series(raw, {"command": comm}, first, "first workload")
    assert raw.int("gcpause_python_processes", command=comm) == 0
    assert raw.int("gcpause_series") == 2
    assert raw.int("gcpause_series_expired_total") == 0

    # Poll until it is gone, keeping when each scrape was made and whether the series was in.
    polls = []

    def gone():
        t0 = time.monotonic_ns()
        s = sv.scrape()
        present = bool(s.find("gcpause_python_processes", command=comm))
        polls.append((t0, time.monotonic_ns(), present))
        return None if present else s

    after = wait_until(gone, 10, f"the expiry of the {comm} series")
    # gcpause stamps the exit when it sees it, after the workload's last snapshot: no scrape
    # answered before that + 2 s may miss the series. Housekeeping runs once a second, so it
    # must be gone within about 3 s of the exit line.
    exited = first[0][1]["window_end_ns"]
    early = [(t0, t1) for t0, t1, present in polls if not present and t1 < exited + 2 * 10**9]
    assert not early, f"series expired {(early[0][1] - exited) / 1e9:.3f} s after the exit"
    assert sum(1 for p in polls if p[2]) >= 5, f"too few scrapes before the expiry: {polls}"
    t_gone = polls[-1][0]
    assert t_gone - t_exit_seen <= 5 * 10**9, \
        f"series still there {(t_gone - t_exit_seen) / 1e9:.3f} s after the exit line"
    assert not after.with_label("command", comm), \
        f"samples left of the expired series: {after.with_label('command', comm)[:5]}"
    assert after.int("gcpause_series_expired_total") == 1
    assert after.int("gcpause_series") == 1
    # The live process's series stays, although it has not collected since the agent started.
    assert after.int("gcpause_python_processes", command=f"{tag}-live") == 1
    assert after.find("gcpause_gc_collections_total", command=f"{tag}-live")
    check_promtool(after)

    # A new process with the same labels starts a new series: from zero, its own counts only.
    second, _ = run_one(10)
    raw = sv.scrape()
    check_gc_series(raw, {"command": comm}, second, "second workload")
    assert raw.int("gcpause_series_expired_total") == 1
    assert raw.int("gcpause_series") == 2
    assert raw.int("gcpause_processes_traced") == 1
    assert sv.stop() == 0


# --------------------------------------------------------------------------
# 4. --http with a real gunicorn
# --------------------------------------------------------------------------

class NamedServer(servers.Server):
    """tests/http/servers.py's server, its interpreter run through a symlink."""

    def __init__(self, python, *args, **kw):
        self.python = python
        super().__init__(*args, **kw)

    def command(self, port):
        cmd = super().command(port)
        assert cmd[0] == servers.PYTHON, cmd
        return [str(self.python)] + cmd[1:]


def test_http_gunicorn(procs, tmp_path, tag, pythons):
    """gcpause_http_* for a gunicorn sync worker against what the app recorded.

    Automatic collection is off in the server (a sitecustomize calling gc.disable()): the only
    collections are the gc.collect() of /gc/<id> requests, inside their handler. With the
    requests sent one after another, a request overlaps a collection exactly when the app saw
    one inside its handler, and every collection of the worker lies inside a request.
    """
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text("import gc\ngc.disable()\n")
    idle = idle_python(procs, pythons("idle"))
    sv = Serve(procs, "--http", "--per-pid", "--comm", f"{tag}-*")
    sv.wait_traced(idle.pid, f"{tag}-idle")
    comm = f"{tag}-gun"
    srv = NamedServer(pythons("gun"), "gunicorn-sync", tmp_path / "gunicorn", workers=1,
                      heap=100000, static_size=4096, procs=procs,
                      extra_env={"PYTHONPATH": str(site)})
    try:
        srv.start()
        _http_gunicorn(sv, srv, comm, tag)
    finally:
        srv.kill()
    assert sv.stop() == 0


def _http_gunicorn(sv, srv, comm, tag):
    worker = srv.workers[0]
    sv.wait_traced(srv.proc.pid, comm)
    sv.wait_traced(worker, comm)

    n = 32
    paths = [f"/gc/{tag}g{i:03d}" if i % 4 == 1 else f"/work/{tag}w{i:03d}" for i in range(n)]
    c = http_client.Client("127.0.0.1", srv.port)
    sent = c.new_connections(paths)
    assert [(r.path, r.status) for r in sent] == [(p, 200) for p in paths], \
        [r for r in sent if not r.ok or r.status != 200][:3]

    # Ground truth, from the app.
    handled = {h["path"]: h for h in srv.handled()}
    assert sorted(handled) == sorted(paths), "the app did not handle every request once"
    assert all(h["pid"] == worker for h in handled.values())
    hit_paths = sorted(p for p, h in handled.items() if h["gc_count"] > 0)
    gc_paths = sorted(p for p in paths if p.startswith("/gc/"))
    assert hit_paths == gc_paths, \
        f"collections in requests other than /gc: is gc.disable() in effect? {hit_paths}"
    cols = srv.collections(worker)["collections"]
    assert len(cols) == len(gc_paths) and all(col["gen"] == 2 for col in cols), cols
    for col in cols:
        inside = [p for p in gc_paths if handled[p]["handler_start_ns"] <= col["start_ns"]
                  and col["end_ns"] <= handled[p]["handler_end_ns"]]
        assert len(inside) == 1, f"collection {col} inside the handlers of {inside}"

    # gcpause's figures for the worker, once every request is counted.
    labels = {"command": comm, "pid": worker}

    def counted():
        s = sv.scrape()
        got = sum(s.int("gcpause_http_requests_total", **labels, gc=k) for k in ("hit", "clean"))
        return s if got >= n else None

    raw = wait_until(counted, 15, f"{n} requests in gcpause_http_requests_total")
    hits = raw.int("gcpause_http_requests_total", **labels, gc="hit")
    clean = raw.int("gcpause_http_requests_total", **labels, gc="clean")
    assert (hits, clean) == (len(hit_paths), n - len(hit_paths)), \
        f"gc=hit {hits}, gc=clean {clean}; the app saw {len(hit_paths)} of {n} overlap a " \
        f"collection"
    by_path = {r.path: r for r in sent}
    for cls, cls_paths in (("hit", hit_paths),
                           ("clean", [p for p in paths if p not in hit_paths])):
        what = f"gcpause_http_request_duration_seconds{{gc={cls}}}"
        h = raw.histogram("gcpause_http_request_duration_seconds", **labels, gc=cls)
        h.check(what)
        assert h.count == len(cls_paths), f"{what}: _count {h.count} != {len(cls_paths)}"
        # A request's latency (arrival in the kernel to its last byte) contains the app's
        # handler and lies within the client's connect and last byte received.
        inner = [handled[p]["handler_end_ns"] - handled[p]["handler_start_ns"]
                 for p in cls_paths]
        outer = [by_path[p].recv_ns + RECV_SLACK_NS - by_path[p].connect_ns for p in cls_paths]
        sum_ns = h.sum * 10**9
        assert sum(inner) <= sum_ns <= sum(outer), \
            f"{what}: _sum {sum_ns} ns outside [{sum(inner)}, {sum(outer)}]"
        for le_ns in h.bounds_ns():
            lo = sum(1 for o in outer if o <= le_ns)
            hi = sum(1 for i in inner if i <= le_ns)
            got = h.cumulative(le_ns)
            assert lo <= got <= hi, f"{what}: bucket le={le_ns / 1e9} {got} not in [{lo}, {hi}]"

    # Every collection of the worker lies inside a request: GC time inside requests is all of
    # its pause time, to the nanosecond.
    gc_in_requests = raw.dec("gcpause_http_request_weighted_gc_seconds_total", **labels)
    # One request at a time: each pause delayed one request, so wall time is the same.
    assert raw.dec("gcpause_http_gc_wall_seconds_total", **labels) == gc_in_requests
    for reason in ("unanswered", "unmatched_response", "cut", "overflow", "untraced_process"):
        assert raw.int("gcpause_http_unassembled_total", reason=reason) == 0, reason
    pause_total = sum(raw.dec("gcpause_gc_pause_time_seconds_total", **labels, generation=g)
                      for g in GENS)
    assert gc_in_requests == pause_total, \
        f"GC time inside requests {gc_in_requests} s != the worker's pause time {pause_total} s"
    cb_total = sum(col["end_ns"] - col["start_ns"] for col in cols)
    assert 0 < gc_in_requests * 10**9 <= cb_total, (gc_in_requests, cb_total)
    hit_h = raw.histogram("gcpause_http_request_duration_seconds", **labels, gc="hit")
    assert gc_in_requests <= hit_h.sum, (gc_in_requests, hit_h.sum)
    assert [raw.int("gcpause_gc_collections_total", **labels, generation=g) for g in GENS] == \
        [0, 0, len(cols)], "the worker's collections are the /gc requests' only"
    assert raw.int("gcpause_gc_collected_objects_total", **labels, generation=2) == \
        sum(col["collected"] + col["uncollectable"] for col in cols)
    assert raw.int("gcpause_python_processes", **labels) == 1

    # The master serves nothing: all of the command's requests are the worker's.
    for s in raw.find("gcpause_http_requests_total", command=comm):
        assert s.labels["pid"] == str(worker) or s.int() == 0, s
    assert raw.int("gcpause_events_dropped_total", source="http") == 0
    assert raw.int("gcpause_events_dropped_total", source="gc") == 0
    check_promtool(raw)


# --------------------------------------------------------------------------
# 4b. Three Pythons of one command told apart by their program (issue 14)
# --------------------------------------------------------------------------

# Collects when told: N on a line of stdin, N gc.collect(), then "done N".
PLAIN_SCRIPT = """\
import gc
import sys

gc.disable()
print("ready", flush=True)
for line in iter(sys.stdin.readline, ""):
    n = int(line)
    for _ in range(n):
        gc.collect()
    print(f"done {n}", flush=True)
"""


def test_programs_told_apart(procs, tmp_path, tag):
    """A hypercorn, a tornado and a plain script, all /usr/bin/python3.11 (command
    "python3.11"): serve -p gives each a series of its own, told apart by `program` (hypercorn,
    tornado_server.py, the script's name), each holding that process's collections only, and
    its requests; `list` shows each one's command line and program.

    Automatic collection is off in all three (sitecustomize, gc.disable()): the only
    collections are the explicit ones, a different number per process, so a series holding
    another's collections shows."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text("import gc\ngc.disable()\n")
    env = {"PYTHONPATH": str(site)}
    script = tmp_path / f"plain_{tag}.py"
    script.write_text(PLAIN_SCRIPT)
    plain = popen(procs, [PYTHON, script], stdin=subprocess.PIPE)
    assert plain.stdout.readline() == "ready\n", plain.stderr.read()
    started = []
    try:
        for kind in ("hypercorn", "tornado"):
            srv = servers.Server(kind, tmp_path / kind, heap=50000, static_size=4096,
                                 procs=procs, extra_env=env)
            started.append(srv)
            srv.start()
        _programs_told_apart(procs, started[0], started[1], plain, script.name, tag)
    finally:
        for srv in started:
            srv.kill()


def _programs_told_apart(procs, hyper, tornado, plain, script_name, tag):
    want = {  # program: (pid, explicit collections, server or None)
        "hypercorn": (hyper.workers[0], 2, hyper),
        "tornado_server.py": (tornado.workers[0], 3, tornado),
        script_name: (plain.pid, 4, None),
    }
    pids = [pid for pid, _, _ in want.values()]

    # list: each one's command line, which names its program.
    res = run_gcpause([GCPAUSE, "list", "--json"] + [a for p in pids for a in ("-p", p)])
    assert res.returncode == 0, res.stderr
    rows = {r["pid"]: r for r in map(json.loads, res.stdout.splitlines())}
    for program, (pid, _, srv) in want.items():
        row = rows[pid]
        assert row["comm"] == "python3.11", row
        argv = row["cmdline"].split(" ")
        assert argv[0] == PYTHON and argv[1].rsplit("/", 1)[-1] == program, row
        assert row["role"] == "single", row
        if srv is not None:
            assert srv.port in row["listen_ports"], row
    text = run_gcpause([GCPAUSE, "list"] + [a for p in pids for a in ("-p", p)])
    assert text.returncode == 0, text.stderr
    for program, (pid, _, _) in want.items():
        line = [l for l in text.stdout.splitlines() if l.split()[:1] == [str(pid)]]
        assert len(line) == 1 and program in line[0], \
            f"`gcpause list` does not show {program} for pid {pid}: {line}"

    sv = Serve(procs, "--http", *[a for p in pids for a in ("-p", p)])
    for pid in pids:
        sv.wait_traced(pid, "python3.11")

    # The collections: the plain script's on its stdin, the servers' as /gc requests.
    plain.stdin.write(f"{want[script_name][1]}\n")
    plain.stdin.flush()
    assert plain.stdout.readline() == f"done {want[script_name][1]}\n"
    sent = {}
    for program, (pid, n_gc, srv) in want.items():
        if srv is None:
            continue
        c = http_client.Client("127.0.0.1", srv.port)
        paths = [f"/gc/{tag}g{i}" for i in range(n_gc)] + [f"/work/{tag}w{i}" for i in range(2)]
        sent[program] = c.new_connections(paths)
        assert all(r.ok and r.status == 200 for r in sent[program]), sent[program]

    def counted():
        s = sv.scrape()
        for program, (pid, n_gc, srv) in want.items():
            gen2 = s.find("gcpause_gc_collections_total", program=program, generation=2)
            if not gen2 or gen2[0].int() < n_gc:
                return None
            if srv is not None and sum(
                    x.int() for x in s.find("gcpause_http_requests_total", program=program)) \
                    < len(sent[program]):
                return None
        return s

    scrape = wait_until(counted, 15, "every collection and request in /metrics")
    series = {s.labels["program"] for s in scrape.find("gcpause_python_processes")}
    assert series == set(want), f"series' programs {series}, expected {set(want)}"
    for program, (pid, n_gc, srv) in want.items():
        labels = {"command": "python3.11", "program": program}
        assert scrape.int("gcpause_python_processes", **labels) == 1, program
        assert [scrape.int("gcpause_gc_collections_total", **labels, generation=g)
                for g in GENS] == [0, 0, n_gc], f"{program}: another process's collections?"
        for s in scrape.find("gcpause_gc_collections_total", program=program):
            assert set(s.labels) - {"generation"} <= SERIES_LABELS, s
            assert "pid" not in s.labels, s
        if srv is None:
            assert sum(x.int() for x in scrape.find("gcpause_http_requests_total",
                                                    program=program)) == 0, program
            continue
        # Each /gc request overlaps its own collection, the /work ones none (gc disabled).
        hits = scrape.int("gcpause_http_requests_total", **labels, gc="hit")
        clean = scrape.int("gcpause_http_requests_total", **labels, gc="clean")
        assert (hits, clean) == (n_gc, 2), (program, hits, clean)
        handled = srv.handled()
        assert sorted(h["path"] for h in handled) == sorted(r.path for r in sent[program])
        assert all(h["pid"] == pid for h in handled), handled
    check_promtool(scrape)
    assert sv.stop() == 0


# --------------------------------------------------------------------------
# 5. Endpoints, errors, stopping
# --------------------------------------------------------------------------

def test_endpoints_and_errors(procs, tag):
    # --comm matching nothing: an agent with nothing to trace still serves.
    sv = Serve(procs, "--comm", f"{tag}-*")
    assert sv.ready == "gcpause: 0 processes, 0 binaries probed; Ctrl-C to stop", sv.ready
    status, ctype, body = fetch(sv.url + "/healthz")
    assert status == 200 and body.strip() == "ok", (status, body)
    status, _, body = fetch(sv.url + "/no/such/path")
    assert status == 404, (status, body)
    scrape = sv.scrape()
    assert scrape.int("gcpause_series") == 0
    assert not [s for s in scrape.samples if "command" in s.labels], scrape.samples[:5]
    check_promtool(scrape)

    # A port somebody listens on: one line, non-zero, nothing on stdout.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        for taken in (port, sv.port):
            res = run_gcpause([GCPAUSE, "serve", "--listen", f"127.0.0.1:{taken}",
                               "--comm", f"{tag}-*"], timeout=30)
            lines = res.stderr.splitlines()
            assert res.returncode not in (0, None), (res.returncode, lines)
            assert len(lines) == 1 and lines[0].startswith("gcpause: ") and \
                "cannot listen on" in lines[0] and f"127.0.0.1:{taken}" in lines[0], lines
            assert res.stdout == "", res.stdout

    # SIGTERM: exit 0, promptly, and the port closed.
    t0 = time.monotonic()
    assert sv.stop(signal.SIGTERM, timeout=5) == 0, sv.lines()[-5:]
    assert time.monotonic() - t0 < 5
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(2)
        with pytest.raises(ConnectionRefusedError):
            s.connect(("127.0.0.1", sv.port))
