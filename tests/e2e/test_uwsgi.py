# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""uwsgi: a C program that loads CPython with dlopen() after it starts (its python3 plugin).

gcpause sees the libpython appear at the dynamic loader's debugger hook (_dl_debug_state):
`-- uwsgi ...` holds the command there until the library is probed, so its master is traced
from its very first collection; workers forked from the master are followed; `--all` makes
the process a candidate there. Ground truth is tests/workloads/uwsgi_app.py's own record per
process: gc.callbacks windows and gc.get_stats(), written at the app's load and at exit.
"""

import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest

from conftest import (FIXTURES, LIBPYTHON, REPO, Gcpause, gen_counts, match_callbacks,
                      popen)

UWSGI = shutil.which("uwsgi") or "/usr/bin/uwsgi"
UWSGI_APP = REPO / "tests" / "workloads" / "uwsgi_app.py"
PLUGIN = Path("/usr/lib/uwsgi/plugins/python3_plugin.so")
DLOPEN_HOST = FIXTURES / "dlopen_host"

pytestmark = pytest.mark.skipif(
    not os.access(UWSGI, os.X_OK) or not PLUGIN.exists(),
    reason="Debian's uwsgi and uwsgi-plugin-python3 are not installed "
           "(scripts/install-deps.sh installs them)")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def uwsgi_args(port, *extra, http_router=False):
    listen = ["--http", f"127.0.0.1:{port}"] if http_router else \
        ["--http-socket", f"127.0.0.1:{port}"]
    # Debian builds uwsgi's HTTP router as a plugin, loaded before its option is parsed.
    return [UWSGI, "--plugin", "python3,http" if http_router else "python3", *listen, "--wsgi-file", UWSGI_APP, "--master",
            "--die-on-term", "--disable-logging", *extra]


def wait_listening(port, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.05)
    raise AssertionError(f"nothing listens on 127.0.0.1:{port} after {timeout} s")


def drive(port, requests, conns=4, timeout=40):
    """Sends `requests` GET /work (every 20th GET /collect) over `conns` keep-alive
    connections at once; returns how many responses each worker PID gave."""
    served, lock, errors = {}, threading.Lock(), []
    deadline = time.monotonic() + timeout

    def client(n):
        try:
            for i in range(n):
                if time.monotonic() > deadline:
                    errors.append("deadline")
                    return
                # A connection per request: uwsgi closes it after each response.
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
                try:
                    conn.request("GET", "/collect" if i % 20 == 19 else "/work")
                    resp = conn.getresponse()
                    body = resp.read().decode()
                finally:
                    conn.close()
                assert resp.status == 200 and body.startswith("pid "), body
                with lock:
                    pid = int(body.split()[1])
                    served[pid] = served.get(pid, 0) + 1
        except Exception as e:  # reported below, in the test's thread
            errors.append(repr(e))

    threads = [threading.Thread(target=client, args=(requests // conns,), daemon=True)
               for _ in range(conns)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(max(0, deadline + 10 - time.monotonic()))
    assert not any(t.is_alive() for t in threads), "clients still running"
    assert not errors, errors
    return served


def load_records(gt_dir):
    """{pid: exit record}, {pid: load record}."""
    exits, loads = {}, {}
    for f in Path(gt_dir).glob("*.json"):
        rec = json.loads(f.read_text())
        (loads if f.name.startswith("load-") else exits)[rec["pid"]] = rec
    return exits, loads


def deltas(gt, key="collections"):
    return [gt["stats_after"][g][key] - gt["stats_before"][g][key] for g in range(3)]


def check_worker(events, gt, lazy=False):
    """Every collection of the worker's record, one to one, and nothing else in it."""
    ws, we = gt["window_start_ns"], gt["window_end_ns"]
    mine = [e for e in events if e["pid"] == gt["pid"]]
    # Forked from a master that had the app: the record starts at the worker's first
    # collection, and gcpause saw none earlier. A lazy worker collects before its import.
    if not lazy:
        assert not [e for e in mine if e["start_ns"] < ws], (gt["pid"], ws, mine[:3])
    window = [e for e in mine if ws <= e["start_ns"] and e["start_ns"] + e["duration_ns"] <= we]
    assert sum(deltas(gt)) > 3, f"pid {gt['pid']} hardly collected: {deltas(gt)}"
    assert gen_counts(window) == deltas(gt), (gt["pid"], gen_counts(window), deltas(gt))
    match_callbacks(window, gt, ws, we)
    collected = [sum(e["collected"] for e in window if e["gen"] == g) for g in range(3)]
    want = [a + b for a, b in zip(deltas(gt, "collected"), deltas(gt, "uncollectable"))]
    assert collected == want, (gt["pid"], collected, want)
    return window


def before(events, pid, time_ns):
    return [e for e in events if e["pid"] == pid and e["start_ns"] + e["duration_ns"] < time_ns]


@pytest.fixture
def groups(procs):
    """Process groups to kill whole after the test: uwsgi's workers would otherwise outlive a
    failed test, holding the pipes its readers wait on. Torn down before `procs`."""
    pgids = []
    yield pgids
    for pgid in pgids:
        for sig in (signal.SIGCONT, signal.SIGKILL):
            try:
                os.killpg(pgid, sig)
            except ProcessLookupError:
                pass


class UwsgiRun:
    """uwsgi under `gcpause --json [ARGS] -- uwsgi ...`, or alone (gcpause_args=None), in a
    process group of its own."""

    def __init__(self, procs, groups, tmp_path, *extra, gcpause_args=(), http_router=False):
        self.port = free_port()
        self.gt_dir = tmp_path / "gt"
        self.gt_dir.mkdir()
        env = dict(os.environ, GT_DIR=str(self.gt_dir))
        cmd = uwsgi_args(self.port, *extra, http_router=http_router)
        if gcpause_args is None:
            self.g = None
            self.proc = popen(procs, cmd, env=env, start_new_session=True)
        else:
            self.g = Gcpause(procs, [*gcpause_args, "--", *cmd], env=env,
                             start_new_session=True)
            self.proc = self.g.proc
        groups.append(self.proc.pid)
        wait_listening(self.port)

    def stop(self):
        """SIGINT: gcpause passes it to uwsgi, whose master stops its workers (they write
        their records at exit) and exits; gcpause then prints its summary."""
        if self.g:
            assert self.g.stop(timeout=60) == 0, self.g.err.snapshot()
            return self.g.records()
        self.proc.send_signal(signal.SIGINT)
        self.proc.wait(60)
        return None


def attached(recs):
    return {r["pid"]: r for r in recs if r["type"] == "attach"}


def check_master_from_first_collection(recs, loads, master):
    """The master collected before its app was loaded (interpreter start-up, imports):
    gcpause, which held uwsgi at the dlopen until libpython was probed, saw all of it."""
    load = loads[master]
    events = before([r for r in recs if r["type"] == "gc"], master, load["time_ns"])
    want = [load["stats"][g]["collections"] for g in range(3)]
    assert sum(want) > 0, load
    assert gen_counts(events) == want, (gen_counts(events), want)


def test_command_prefork_workers_exact(procs, groups, tmp_path):
    """`-- uwsgi --master --processes 2`: master exact from its first collection, and each
    worker forked from it exact from the fork, against its own gc.callbacks record."""
    run = UwsgiRun(procs, groups, tmp_path, "--processes", "2")
    served = drive(run.port, 120)
    recs = run.stop()
    exits, loads = load_records(run.gt_dir)
    assert len(loads) == 1, loads
    master = next(iter(loads))
    workers = sorted(set(exits) - {master})
    assert len(workers) == 2 and set(served) <= set(workers), (workers, served)
    att = attached(recs)
    assert set(att) >= {master, *workers}, att
    assert all(att[p]["binary"].endswith(LIBPYTHON) for p in (master, *workers)), att
    check_master_from_first_collection(recs, loads, master)
    events = [r for r in recs if r["type"] == "gc"]
    for pid in workers:
        check_worker(events, exits[pid])
    assert recs[-1]["type"] == "summary"


def test_command_threaded_worker_exact(procs, groups, tmp_path):
    """`--threads 2`: collections run on either thread of the worker; each is matched to
    its own thread's callback."""
    run = UwsgiRun(procs, groups, tmp_path, "--processes", "1", "--threads", "2")
    drive(run.port, 120, conns=4)
    recs = run.stop()
    exits, loads = load_records(run.gt_dir)
    master = next(iter(loads))
    workers = sorted(set(exits) - {master})
    assert len(workers) == 1, exits.keys()
    gt = exits[workers[0]]
    tids = {c["tid"] for c in gt["collections"]}
    assert len(tids) == 2, f"the test wants collections on both threads: {tids}"
    check_worker([r for r in recs if r["type"] == "gc"], gt)
    check_master_from_first_collection(recs, loads, master)


def test_command_lazy_apps_exact(procs, groups, tmp_path):
    """--lazy-apps: each worker loads the app itself after the fork. Its collections before
    that (and the master's, inherited in its counters) add up to gc.get_stats() at its
    load; after that they match its callbacks one to one."""
    run = UwsgiRun(procs, groups, tmp_path, "--processes", "2", "--lazy-apps")
    drive(run.port, 120)
    recs = run.stop()
    exits, loads = load_records(run.gt_dir)
    workers = sorted(exits)
    assert len(workers) == 2 and set(loads) == set(workers), (exits.keys(), loads.keys())
    events = [r for r in recs if r["type"] == "gc"]
    att = attached(recs)
    masters = set(att) - set(workers)
    assert len(masters) == 1, att
    master = masters.pop()
    for pid in workers:
        gt = exits[pid]
        window = check_worker(events, gt, lazy=True)
        first = min([e["start_ns"] for e in events if e["pid"] == pid] + [gt["window_start_ns"]])
        inherited = gen_counts(before(events, master, first))
        own = gen_counts(before(events, pid, gt["window_start_ns"]))
        want = [loads[pid]["stats"][g]["collections"] for g in range(3)]
        assert [a + b for a, b in zip(inherited, own)] == want, (pid, inherited, own, want)
        assert window


def test_all_traces_uwsgi_started_later(procs, groups, tmp_path):
    """--all: uwsgi started after gcpause is noticed at its dlopen (not at the next /proc
    rescan, 10 s later), and its workers are exact from the fork."""
    g = Gcpause(procs, ["--all"])
    g.wait_record(lambda r: r["type"] == "ready", 30, "ready record")
    started = time.monotonic_ns()
    run = UwsgiRun(procs, groups, tmp_path, "--processes", "2", gcpause_args=None)
    drive(run.port, 120)
    run.stop()
    exits, loads = load_records(run.gt_dir)
    master = next(iter(loads))
    workers = sorted(set(exits) - {master})
    for pid in (master, *workers):
        g.wait_exit_line(pid, timeout=20)
    assert g.stop() == 0
    recs = g.records()
    att = attached(recs)
    assert {master, *workers} <= set(att), att
    # Found at its dlopen, well before the rescan (10 s) would have found it (usually before
    # its app is loaded; a loaded machine can delay the look by hundreds of milliseconds).
    assert att[master]["time_ns"] - started < 5_000_000_000, (att[master], started)
    events = [r for r in recs if r["type"] == "gc"]
    for pid in workers:
        check_worker(events, exits[pid])
    # The master's start-up collections: all of them if libpython3.11 was probed already
    # (another process used it), else those after the attach; never more than it made.
    seen = gen_counts(before(events, master, loads[master]["time_ns"]))
    made = [loads[master]["stats"][gen]["collections"] for gen in range(3)]
    assert all(s <= m for s, m in zip(seen, made)), (seen, made)


def test_all_dlopen_seen_without_rescan(procs, groups, tmp_path):
    """The dlopen of a process not Python at its exec makes it traced within a second,
    with the default 10 s rescan: the loader hook, not a /proc scan, found it."""
    from conftest import Workload
    g = Gcpause(procs, ["--all"])
    g.wait_record(lambda r: r["type"] == "ready", 30, "ready record")
    w = Workload(procs, tmp_path, "--rounds", "10", "--explicit",
                 prefix=(DLOPEN_HOST, f"/usr/lib/x86_64-linux-gnu/{LIBPYTHON}"))
    time.sleep(0.3)  # its exec is looked at, and it is not Python
    sent = time.monotonic_ns()
    w.proc.stdin.write("load\n")
    w.proc.stdin.flush()
    attach = g.wait_attach(w.pid, timeout=5)
    assert attach["time_ns"] - sent < 1_000_000_000, (attach["time_ns"] - sent) / 1e6
    w.wait_ready()
    w.go()
    w.wait_done()
    assert w.finish() == 0
    g.wait_exit_line(w.pid)
    assert g.stop() == 0
    gt = w.result()
    events = [r for r in g.records() if r["type"] == "gc" and r["pid"] == w.pid
              and gt["window_start_ns"] <= r["start_ns"] <= gt["window_end_ns"]]
    assert gen_counts(events) == [gt["stats_after"][i]["collections"] -
                                  gt["stats_before"][i]["collections"] for i in range(3)]
    match_callbacks(events, gt, gt["window_start_ns"], gt["window_end_ns"])


def test_command_not_python_ever(procs, groups, tmp_path):
    """A command that never loads Python runs to its end; gcpause says so, exits 1."""
    g = Gcpause(procs, ["--", "/bin/sh", "-c", "sleep 0.2; exit 3"], json_mode=False)
    assert g.wait(20) == 1, g.err.snapshot()
    err = g.err.snapshot()
    assert "is not Python yet" in err[0], err
    assert err[-1].startswith("gcpause: pid ") and err[-1].endswith(
        "(/bin/sh) exited with status 3 without loading a libpython: not a Python program"), err
    assert g.out.snapshot() == [], "no report: nothing was traced"


def requests_by_pid(recs):
    out = {}
    for r in recs:
        if r["type"] == "request":
            out[r["pid"]] = out.get(r["pid"], 0) + 1
    return out


def test_http_socket_requests_per_worker(procs, groups, tmp_path):
    """--http --  uwsgi --http-socket: each worker speaks HTTP itself, and each of its
    requests is seen in it, with the GC inside them taken from its own collections."""
    run = UwsgiRun(procs, groups, tmp_path, "--processes", "2", gcpause_args=("--http",))
    served = drive(run.port, 80)
    recs = run.stop()
    assert requests_by_pid(recs) == served, (requests_by_pid(recs), served)
    reqs = [r for r in recs if r["type"] == "request"]
    assert all(r["path"] in ("/work", "/collect") and r["status"] == 200 for r in reqs)
    # Every GET /collect runs a full collection inside its request.
    collects = [r for r in reqs if r["path"] == "/collect"]
    assert len(collects) == 4 and all(r["gc_ns_by_gen"][2] > 0 for r in collects), collects
    # Each request's GC is its worker's collections clipped to [arrival, end]: recomputed
    # here from the gc records (single-threaded workers: every collection is read in time).
    gcs = [e for e in recs if e["type"] == "gc"]
    for r in reqs:
        overlap = [min(e["start_ns"] + e["duration_ns"], r["end_ns"]) -
                   max(e["start_ns"], r["arrival_ns"]) for e in gcs if e["pid"] == r["pid"]]
        overlap = [o for o in overlap if o > 0]
        assert (r["gc_ns"], r["gc_count"]) == (sum(overlap), len(overlap)), (r, overlap)
    assert sum(r["gc_count"] for r in reqs) > len(reqs), "the requests hardly collected"


def test_http_router_seen_in_router_only(procs, groups, tmp_path):
    """uwsgi's own router (--http, Debian's http plugin): a process forked from the master
    speaks HTTP to clients and the uwsgi protocol to the workers. gcpause traces it (it maps
    libpython, and never collects) and sees every request there, with no GC: the
    collections are the workers', where no HTTP passes. docs/http.md says so."""
    run = UwsgiRun(procs, groups, tmp_path, "--processes", "2", gcpause_args=("--http",),
                   http_router=True)
    served = drive(run.port, 60)
    recs = run.stop()
    by_pid = requests_by_pid(recs)
    assert len(by_pid) == 1, by_pid
    router = next(iter(by_pid))
    assert router not in served and by_pid[router] == sum(served.values()), (by_pid, served)
    assert not [e for e in recs if e["type"] == "gc" and e["pid"] == router]
    assert all(r["gc_ns"] == 0 for r in recs if r["type"] == "request")
    assert router in attached(recs)


@pytest.mark.skipif(not shutil.which("gunicorn"), reason="Debian's gunicorn is not installed")
def test_command_follows_gunicorn_workers(procs, groups, tmp_path):
    """The same following of forks serves `-- gunicorn` (issue 14): its workers, forked from
    the traced master, are traced too, each exact from its app's import."""
    port = free_port()
    gt_dir = tmp_path / "gt"
    gt_dir.mkdir()
    g = Gcpause(procs, ["--", "gunicorn", "-w", "2", "-b", f"127.0.0.1:{port}", "--chdir",
                        UWSGI_APP.parent, f"{UWSGI_APP.stem}:application"],
                env=dict(os.environ, GT_DIR=str(gt_dir)), start_new_session=True)
    groups.append(g.pid)
    wait_listening(port)
    # gunicorn's sync workers race for each connection: one may win nearly all of them. Every
    # worker serves enough (and so collects enough) for its check to mean something.
    served = drive(port, 80)
    for _ in range(5):
        if len(served) == 2 and min(served.values()) >= 20:
            break
        for pid, n in drive(port, 40).items():
            served[pid] = served.get(pid, 0) + n
    assert g.stop(timeout=60) == 0, g.err.snapshot()
    recs = g.records()
    exits, loads = load_records(gt_dir)
    assert len(exits) == 2 and set(exits) == set(loads), (exits.keys(), loads.keys())
    assert set(exits) < set(attached(recs)), attached(recs)
    events = [r for r in recs if r["type"] == "gc"]
    for pid in exits:
        check_worker(events, exits[pid], lazy=True)
