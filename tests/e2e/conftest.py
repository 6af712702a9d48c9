# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""Shared machinery for gcpause's end-to-end tests.

Every test starts real processes: gcpause itself, Python workloads that record
their own ground truth (tests/workloads/gc_workload.py), and the C fixtures
(build/tests/fixtures). Nothing may hang: every wait has a deadline, every
process started here is killed at the end of its test, and a SIGALRM watchdog
aborts any test that runs away anyway.

Helpers are plain functions and classes; test modules import them with
`from conftest import ...` (pytest puts this directory on sys.path).
"""

import bisect
import json
import math
import os
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BUILD = REPO / "build"
GCPAUSE = BUILD / "gcpause"
FIXTURES = BUILD / "tests" / "fixtures"
SDT_MARKERS = FIXTURES / "sdt_markers"
EMBED_HOST = FIXTURES / "embed_host"
PYTHON = "/usr/bin/python3.11"
WORKLOAD = REPO / "tests" / "workloads" / "gc_workload.py"
LIBPYTHON = "libpython3.11.so.1.0"

# Upper bound for any single test; the suite as a whole should take ~3 min.
TEST_TIMEOUT = 120
# gcpause loads BPF programs and attaches uprobes before "attach"; generous.
ATTACH_TIMEOUT = 30
# Relative error the histogram-based percentiles may have.
PERCENTILE_TOLERANCE = 0.032


# --------------------------------------------------------------------------
# Suite-level gating and safety nets
# --------------------------------------------------------------------------

def pytest_collection_modifyitems(config, items):
    if os.geteuid() != 0:
        skip = pytest.mark.skip(
            reason="gcpause end-to-end tests need root (BPF programs, uprobes)")
        for item in items:
            item.add_marker(skip)


class TestTimeout(Exception):
    """Raised by the watchdog in the test's (main) thread."""


@pytest.fixture(autouse=True)
def watchdog():
    """Abort a test that exceeds TEST_TIMEOUT, whatever it is blocked on."""
    def fire(signum, frame):
        raise TestTimeout(f"test exceeded {TEST_TIMEOUT} s")
    old = signal.signal(signal.SIGALRM, fire)
    signal.alarm(TEST_TIMEOUT)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


@pytest.fixture(scope="session")
def gcpause_bin():
    if not os.access(GCPAUSE, os.X_OK):
        pytest.fail(f"{GCPAUSE} is missing: run `make` first")
    return GCPAUSE


@pytest.fixture(scope="session")
def sdt_fixture():
    if not os.access(SDT_MARKERS, os.X_OK):
        pytest.fail(f"{SDT_MARKERS} is missing: run `make fixtures` first")
    return SDT_MARKERS


@pytest.fixture(scope="session")
def embed_fixture():
    if not os.access(EMBED_HOST, os.X_OK):
        pytest.fail(f"{EMBED_HOST} is missing: run `make fixtures` first")
    return EMBED_HOST


@pytest.fixture
def procs(gcpause_bin):
    """Tracks every process a test starts and kills the survivors afterwards."""
    ps = ProcessSet()
    try:
        yield ps
    finally:
        ps.kill_all()


# --------------------------------------------------------------------------
# Processes
# --------------------------------------------------------------------------

class LineReader:
    """Reads a pipe line by line in a thread, so every wait can time out."""

    def __init__(self, stream, name):
        self.name = name
        self.lines = []
        self.closed = False
        self._cond = threading.Condition()
        self._stream = stream
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        try:
            for line in self._stream:
                with self._cond:
                    self.lines.append(line.rstrip("\n"))
                    self._cond.notify_all()
        except (ValueError, OSError):
            pass  # the pipe was closed under us during teardown
        finally:
            with self._cond:
                self.closed = True
                self._cond.notify_all()

    def snapshot(self):
        with self._cond:
            return list(self.lines)

    def wait_for(self, pred, timeout, what, start=0):
        """First line (from index `start`) satisfying pred; AssertionError on timeout/EOF."""
        deadline = time.monotonic() + timeout
        i = start
        with self._cond:
            while True:
                while i < len(self.lines):
                    if pred(self.lines[i]):
                        return self.lines[i]
                    i += 1
                if self.closed:
                    raise AssertionError(
                        f"{self.name}: closed before {what}; lines: {self.lines[-20:]}")
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(
                        f"{self.name}: no {what} within {timeout} s; lines: {self.lines[-20:]}")
                self._cond.wait(left)

    def join(self, timeout=10):
        self._thread.join(timeout)
        return not self._thread.is_alive()


class ProcessSet:
    def __init__(self):
        self._procs = []

    def add(self, proc):
        self._procs.append(proc)
        return proc

    def kill_all(self):
        for p in self._procs:
            if p.poll() is None:
                try:
                    # A SIGSTOPped process must be continued to die promptly.
                    p.send_signal(signal.SIGCONT)
                    p.kill()
                except ProcessLookupError:
                    pass
        for p in self._procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
            for f in (p.stdin, p.stdout, p.stderr):
                if f is not None:
                    try:
                        f.close()
                    except OSError:
                        pass


def popen(procs, cmd, stdin=subprocess.DEVNULL, **kw):
    return procs.add(subprocess.Popen(
        [str(c) for c in cmd], stdin=stdin, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True, bufsize=1, cwd=REPO, **kw))


def run_gcpause(args, timeout=20):
    """Runs gcpause to completion (for the error cases); returns CompletedProcess."""
    return subprocess.run([str(a) for a in args], stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=timeout, cwd=REPO)


class Gcpause:
    """A running gcpause with its stdout (NDJSON or text) collected in a thread."""

    def __init__(self, procs, args, json_mode=True, env=None, **popen_kw):
        cmd = [GCPAUSE] + (["--json"] if json_mode else []) + [str(a) for a in args]
        self.cmd = cmd
        self.json_mode = json_mode
        self.proc = popen(procs, cmd, env=env, **popen_kw)
        self.pid = self.proc.pid
        self.out = LineReader(self.proc.stdout, "gcpause stdout")
        self.err = LineReader(self.proc.stderr, "gcpause stderr")

    # -- reading ---------------------------------------------------------

    def records(self):
        """All JSON lines so far; any non-JSON line on stdout is a failure."""
        recs = []
        for line in self.out.snapshot():
            try:
                rec = json.loads(line)
            except ValueError:
                raise AssertionError(f"gcpause --json printed a non-JSON line: {line!r}")
            assert isinstance(rec, dict) and "type" in rec, f"record without type: {line!r}"
            recs.append(rec)
        return recs

    def wait_record(self, pred, timeout, what, start=0):
        def line_pred(line):
            try:
                rec = json.loads(line)
            except ValueError:
                return False
            return isinstance(rec, dict) and pred(rec)
        try:
            return json.loads(self.out.wait_for(line_pred, timeout, what, start))
        except AssertionError as e:
            raise AssertionError(f"{e}\ngcpause stderr: {self.err.snapshot()}"
                                 f"\ngcpause exit code: {self.proc.poll()}") from None

    def wait_attach(self, pid, timeout=ATTACH_TIMEOUT):
        return self.wait_record(lambda r: r.get("type") == "attach" and r.get("pid") == pid,
                                timeout, f"attach line for pid {pid}")

    def wait_exit_line(self, pid, timeout=15):
        return self.wait_record(lambda r: r.get("type") == "exit" and r.get("pid") == pid,
                                timeout, f"exit line for pid {pid}")

    def events(self, pid=None):
        return [r for r in self.records()
                if r["type"] == "gc" and (pid is None or r["pid"] == pid)]

    def summaries(self, scope):
        return [r for r in self.records() if r["type"] == "summary" and r["scope"] == scope]

    def total(self):
        """The "total" summary, which must be the last line."""
        recs = self.records()
        assert recs, f"gcpause printed nothing; stderr: {self.err.snapshot()}"
        last = recs[-1]
        assert last["type"] == "summary" and last["scope"] == "total", \
            f"last line is not the total summary: {last}"
        assert len(self.summaries("total")) == 1, "more than one total summary"
        return last

    # -- ending ----------------------------------------------------------

    def stop(self, sig=signal.SIGINT, timeout=15):
        """Signal gcpause, wait for it to exit; returns the exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        return self.wait(timeout)

    def wait(self, timeout):
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"gcpause did not exit within {timeout} s; "
                                 f"stderr: {self.err.snapshot()}") from None
        assert self.out.join() and self.err.join(), "gcpause output pipes stayed open"
        return rc


class Workload:
    """gc_workload.py (or another command running it) writing ground truth."""

    counter = 0

    def __init__(self, procs, tmp_path, *args, wait=True, prefix=(PYTHON,), env=None):
        Workload.counter += 1
        self.out_file = Path(tmp_path) / f"ground-truth-{Workload.counter}.json"
        cmd = list(prefix) + [WORKLOAD, "--out", self.out_file] + list(args)
        if wait:
            cmd.append("--wait")
        self.proc = popen(procs, cmd, stdin=subprocess.PIPE, env=env)
        self.pid = self.proc.pid
        self.out = LineReader(self.proc.stdout, f"workload {self.pid} stdout")
        self.err = LineReader(self.proc.stderr, f"workload {self.pid} stderr")

    def _wait_line(self, word, timeout):
        try:
            self.out.wait_for(lambda l: l == word, timeout, f'"{word}"')
        except AssertionError as e:
            raise AssertionError(f"{e}\nworkload stderr: {self.err.snapshot()}") from None

    def wait_ready(self, timeout=30):
        self._wait_line("ready", timeout)

    def go(self):
        self.proc.stdin.write("go\n")
        self.proc.stdin.flush()

    def wait_done(self, timeout=60):
        self._wait_line("done", timeout)

    def finish(self, timeout=20):
        """Tell a --wait workload to exit; returns its exit code."""
        try:
            self.proc.stdin.write("exit\n")
            self.proc.stdin.close()
        except (BrokenPipeError, OSError):
            pass
        return self.wait(timeout)

    def wait(self, timeout):
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"workload {self.pid} did not exit in {timeout} s") from None
        self.out.join()
        self.err.join()
        return rc

    def result(self):
        with open(self.out_file) as f:
            return json.load(f)


class SdtFixture:
    """build/tests/fixtures/sdt_markers, driven over its stdin protocol."""

    def __init__(self, procs):
        self.proc = popen(procs, [SDT_MARKERS], stdin=subprocess.PIPE)
        self.out = LineReader(self.proc.stdout, "sdt_markers stdout")
        self._next = 0
        line = self._reply("ready", timeout=10)
        self.pid = int(line.split()[1])
        assert self.pid == self.proc.pid

    def _reply(self, prefix, timeout):
        line = self.out.wait_for(lambda l: l.split()[:1] in ([prefix], ["error"]),
                                 timeout, f"{prefix!r} reply", start=self._next)
        self._next = self.out.lines.index(line, self._next) + 1
        assert not line.startswith("error"), line
        return line

    def cmd(self, text, timeout=30):
        """Sends a command; returns the integers of its "ok" reply."""
        self.proc.stdin.write(text + "\n")
        self.proc.stdin.flush()
        return [int(x) for x in self._reply("ok", timeout).split()[1:]]

    def semaphores(self):
        return tuple(self.cmd("semaphore"))


# --------------------------------------------------------------------------
# Checking gcpause's output against ground truth
# --------------------------------------------------------------------------

def event_end(e):
    return e["start_ns"] + e["duration_ns"]


def gen_counts(items):
    counts = [0, 0, 0]
    for it in items:
        counts[it["gen"]] += 1
    return counts


def stats_deltas(gt, key="collections"):
    return [gt["stats_after"][g][key] - gt["stats_before"][g][key] for g in range(3)]


def check_events_well_formed(events):
    for e in events:
        for k in ("pid", "tid", "gen", "start_ns", "duration_ns", "collected", "depth"):
            assert isinstance(e.get(k), int), f"gc event field {k} missing or not int: {e}"
        assert e["duration_ns"] >= 0, e


def match_callbacks(events, gt, lo, hi):
    """Matches gcpause's events one-to-one with the workload's callbacks in [lo, hi].

    Every callback-recorded collection lying in [lo, hi] must contain exactly
    one event (same gen, collected == collected + uncollectable, same thread),
    and every event in [lo, hi] must lie inside exactly one callback interval.
    lo must not be earlier than the attach time (else a collection may be
    legitimately missing) nor than the callback's installation.
    Returns the events in [lo, hi].
    """
    pid = gt["pid"]
    events = sorted((e for e in events if e["pid"] == pid), key=lambda e: e["start_ns"])
    check_events_well_formed(events)
    cbs = sorted(gt["collections"], key=lambda c: c["start_ns"])
    cb_starts = [c["start_ns"] for c in cbs]
    ev_starts = [e["start_ns"] for e in events]

    def events_inside(c):
        i = bisect.bisect_left(ev_starts, c["start_ns"])
        out = []
        while i < len(events) and events[i]["start_ns"] <= c["end_ns"]:
            if event_end(events[i]) <= c["end_ns"]:
                out.append(events[i])
            i += 1
        return out

    def callbacks_around(e):
        i = bisect.bisect_right(cb_starts, e["start_ns"])
        # Callback intervals never overlap (CPython does not nest
        # collections), but look back a few in case of equal timestamps.
        return [c for c in cbs[max(0, i - 3):i]
                if c["start_ns"] <= e["start_ns"] and event_end(e) <= c["end_ns"]]

    in_range_cbs = [c for c in cbs if c["start_ns"] >= lo and c["end_ns"] <= hi]
    in_range_evs = [e for e in events if e["start_ns"] >= lo and event_end(e) <= hi]

    problems = []
    for c in in_range_cbs:
        inside = events_inside(c)
        if len(inside) != 1:
            problems.append(f"callback {c} contains {len(inside)} events: {inside[:3]}")
            continue
        e = inside[0]
        want = c["collected"] + c["uncollectable"]
        if e["gen"] != c["gen"] or e["collected"] != want or e["tid"] != c["tid"]:
            problems.append(f"callback {c} (collected+uncollectable={want}) "
                            f"matched a different event {e}")
        if e["depth"] != 0:
            problems.append(f"CPython collections do not nest, yet depth != 0: {e}")
    for e in in_range_evs:
        around = callbacks_around(e)
        if len(around) != 1:
            problems.append(f"event {e} lies inside {len(around)} callbacks")
    assert not problems, (
        f"pid {pid}: {len(problems)} mismatches between gcpause events and gc.callbacks "
        f"({len(in_range_cbs)} callbacks, {len(in_range_evs)} events in range):\n  "
        + "\n  ".join(problems[:15]))
    # An event may lie in range while its callback straddles lo (the probes went live after
    # the callback started): it is matched above, and belongs to no in-range callback.
    straddling = [e for e in in_range_evs
                  if not (lo <= callbacks_around(e)[0]["start_ns"]
                          and callbacks_around(e)[0]["end_ns"] <= hi)]
    assert len(in_range_cbs) == len(in_range_evs) - len(straddling), (
        len(in_range_cbs), len(in_range_evs), straddling)
    assert len(straddling) <= 2, f"only the boundaries can straddle: {straddling}"
    return [e for e in in_range_evs if e not in straddling]


def check_window(events, gt):
    """Ground-truth check of the workload's window: callbacks and gc.get_stats()."""
    ws, we = gt["window_start_ns"], gt["window_end_ns"]
    window = match_callbacks(events, gt, ws, we)
    # The workload takes its snapshots with gc disabled precisely so that no
    # collection straddles a window boundary; an event that does is bogus.
    for e in events:
        if e["pid"] == gt["pid"]:
            for b in (ws, we):
                assert not (e["start_ns"] < b < event_end(e)), \
                    f"event {e} straddles the window boundary {b}"
    assert gen_counts(window) == stats_deltas(gt), (
        f"pid {gt['pid']}: per-generation events in the window {gen_counts(window)} != "
        f"gc.get_stats() collection deltas {stats_deltas(gt)}")
    collected = [sum(e["collected"] for e in window if e["gen"] == g) for g in range(3)]
    want = [a + b for a, b in zip(stats_deltas(gt, "collected"),
                                  stats_deltas(gt, "uncollectable"))]
    assert collected == want, (
        f"pid {gt['pid']}: per-generation collected in the window {collected} != "
        f"gc.get_stats() collected+uncollectable deltas {want}")
    return window


def check_attach(rec, pid, binary_suffix, comm=None, version=None):
    assert rec["type"] == "attach" and rec["pid"] == pid
    assert isinstance(rec["time_ns"], int) and rec["time_ns"] > 0, rec
    assert rec["probe"] == "usdt", rec
    assert str(rec["binary"]).endswith(binary_suffix), \
        f"attach binary {rec['binary']!r} does not end with {binary_suffix!r}"
    if comm is not None:
        assert rec["comm"] == comm, rec
    if version is not None:
        assert rec["version"] == version, rec
    # The attach time is "now" on CLOCK_MONOTONIC, same clock as ours.
    assert abs(rec["time_ns"] - time.monotonic_ns()) < 120 * 10**9, rec


def summary_process(summary, pid):
    found = [p for p in summary["processes"] if p["pid"] == pid]
    assert len(found) == 1, f"pid {pid} appears {len(found)} times in summary processes"
    return found[0]


def _percentile_bounds(durs, q):
    """Range of values different percentile definitions give for q."""
    n = len(durs)
    idx = {math.floor(q * (n - 1)), math.ceil(q * (n - 1)),
           max(0, math.ceil(q * n) - 1), min(n - 1, math.floor(q * n))}
    vals = [durs[i] for i in idx]
    return min(vals), max(vals)


def check_stats_block(block, durs, collected, what):
    """One generation's (or "all") summary statistics against event durations."""
    durs = sorted(durs)
    n = len(durs)
    assert block["count"] == n, f"{what}: count {block['count']} != {n} events"
    assert block["collected"] == collected, \
        f"{what}: collected {block['collected']} != {collected} summed over events"
    pct_keys = (("p50_ns", 0.50), ("p90_ns", 0.90), ("p99_ns", 0.99), ("p999_ns", 0.999))
    if n == 0:
        for k in ("min_ns", "max_ns", "mean_ns") + tuple(k for k, _ in pct_keys):
            assert block[k] is None, f"{what}: {k} must be null with no collections: {block}"
        assert block["total_ns"] == 0, block
        return
    assert block["total_ns"] == sum(durs), f"{what}: total_ns {block['total_ns']} != {sum(durs)}"
    assert block["max_ns"] == durs[-1], f"{what}: max_ns {block['max_ns']} != {durs[-1]}"
    assert block["min_ns"] == durs[0], f"{what}: min_ns {block['min_ns']} != {durs[0]}"
    assert math.isclose(block["mean_ns"], sum(durs) / n, rel_tol=1e-6, abs_tol=1), \
        f"{what}: mean_ns {block['mean_ns']} != {sum(durs) / n}"
    prev = 0
    for key, q in pct_keys:
        lo, hi = _percentile_bounds(durs, q)
        v = block[key]
        assert lo * (1 - PERCENTILE_TOLERANCE) <= v <= hi * (1 + PERCENTILE_TOLERANCE), (
            f"{what}: {key} = {v}, expected within {PERCENTILE_TOLERANCE:.1%} of "
            f"[{lo}, {hi}] (n={n})")
        assert v >= prev, f"{what}: percentiles not monotonic: {block}"
        prev = v
    hist = block["histogram"]
    assert sum(b["count"] for b in hist) == n, f"{what}: histogram counts != {n}"
    for b in hist:
        assert b["low_ns"] <= b["high_ns"], b
    nonempty = [b for b in hist if b["count"]]
    assert nonempty[0]["low_ns"] <= durs[0] and durs[-1] <= nonempty[-1]["high_ns"], \
        f"{what}: histogram {nonempty[0]}..{nonempty[-1]} does not cover [{durs[0]}, {durs[-1]}]"


def check_summary(summary, pid, events, exited=None, probe="usdt"):
    """A summary's entry for pid against the gc events gcpause printed for pid."""
    proc = summary_process(summary, pid)
    events = [e for e in events if e["pid"] == pid]
    gens = proc["generations"]
    assert [g["gen"] for g in gens] == [0, 1, 2], f"generations listed: {gens}"
    for g in gens:
        evs = [e for e in events if e["gen"] == g["gen"]]
        check_stats_block(g, [e["duration_ns"] for e in evs],
                          sum(e["collected"] for e in evs), f"pid {pid} gen {g['gen']}")
    check_stats_block(proc["all"], [e["duration_ns"] for e in events],
                      sum(e["collected"] for e in events), f"pid {pid} all")
    assert proc["probe"] == probe, proc["probe"]
    wall = proc["wall_ns"]
    assert wall > 0
    total = sum(e["duration_ns"] for e in events)
    frac = total / wall
    share = proc["all"]["gc_share"]
    # A fraction or a percentage; either way it has to be total/wall.
    assert (math.isclose(share, frac, rel_tol=0.01, abs_tol=1e-6)
            or math.isclose(share, 100 * frac, rel_tol=0.01, abs_tol=1e-4)), \
        f"pid {pid}: gc_share {share} inconsistent with total {total} / wall {wall}"
    if exited is not None:
        assert proc["exited"] is exited, f"pid {pid}: exited is {proc['exited']}"
    return proc


def check_no_losses(summary):
    assert summary["dropped_events"] == 0, summary["lost"]
    assert all(v == 0 for v in summary["lost"].values()), summary["lost"]
