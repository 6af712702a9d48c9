# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""--all: every Python process of the host, including the ones started after gcpause.

Processes are found by a /proc scan at start and by the sched_process_exec/fork tracepoints
afterwards. A process running a binary that is already probed is traced from its first
collection: each exec makes it a candidate in the BPF filter before userspace looks at it,
and a fork of a traced process is traced from its first instruction. The checks compare
with the interpreters' own gc.get_stats(), which counts every collection since the
interpreter started (or, in a forked child, since the fork).
"""

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from conftest import (FIXTURES, LIBPYTHON, PYTHON, REPO, WORKLOAD, Gcpause, LineReader,
                      Workload, gen_counts, match_callbacks, popen, stats_deltas)

DLOPEN_HOST = FIXTURES / "dlopen_host"
FORK_WORKLOAD = REPO / "tests" / "workloads" / "fork_workload.py"
PYENV = Path("/root/.pyenv/versions")
# The bound: a process is traced within this long of its exec.
DISCOVERY_BOUND_NS = 200_000_000


def filter_map_pids(gcpause_pid):
    """The PIDs in a running gcpause's BPF filter map (found through its fds' fdinfo)."""
    ids = set()
    for fd in os.listdir(f"/proc/{gcpause_pid}/fdinfo"):
        try:
            info = dict(line.split(":\t", 1) for line in
                        Path(f"/proc/{gcpause_pid}/fdinfo/{fd}").read_text().splitlines()
                        if ":\t" in line)
        except OSError:
            continue
        if (info.get("map_type", "").strip() == "1" and info.get("key_size", "").strip() == "4"
                and info.get("value_size", "").strip() == "1"
                and info.get("max_entries", "").strip() == "8192"):
            ids.add(info["map_id"].strip())
    assert len(ids) == 1, f"expected one filter map, found {ids}"
    out = subprocess.run(["bpftool", "map", "dump", "id", ids.pop(), "--json"],
                         capture_output=True, text=True, check=True).stdout
    return {int.from_bytes(bytes(int(b, 16) for b in e["key"]), "little")
            for e in json.loads(out)}


def start_all(procs, *args):
    """gcpause --all --json, once its start-up scan is done."""
    g = Gcpause(procs, ["--all", *args])
    g.wait_record(lambda r: r["type"] == "ready", 30, "ready record")
    return g


def idle_python(procs, python=PYTHON):
    """A process that keeps `python`'s binary probed, so that later ones are traced at once."""
    p = popen(procs, [python, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE)
    return p


def absolute_counts(gt):
    """gc.get_stats() at the end: every collection since the interpreter started."""
    return [gt["stats_after"][g]["collections"] for g in range(3)]


def stop_and_records(g):
    assert g.stop() == 0
    return g.records()


def test_new_processes_traced_from_first_collection(procs, tmp_path):
    """Three workloads started after gcpause: every collection of their lives is seen."""
    idle = idle_python(procs)
    g = start_all(procs)
    g.wait_attach(idle.pid)
    works = [Workload(procs, tmp_path, "--rounds", "30", "--explicit", "--heap", "20000",
                      "--hard-exit", wait=False) for _ in range(3)]
    for w in works:
        assert w.wait(60) == 0, w.err.snapshot()
        g.wait_exit_line(w.pid)
    recs = stop_and_records(g)
    for w in works:
        gt = w.result()
        events = [r for r in recs if r["type"] == "gc" and r["pid"] == w.pid]
        expected = absolute_counts(gt)
        assert sum(expected) > 10 and all(expected), expected
        assert gen_counts(events) == expected, (w.pid, gen_counts(events), expected)
        # The callbacks (installed after the interpreter's own start-up) each hold one event.
        match_callbacks(events, gt, gt["window_start_ns"], gt["window_end_ns"])
        attach = [r for r in recs if r["type"] == "attach" and r["pid"] == w.pid]
        assert len(attach) == 1 and attach[0]["binary"] == PYTHON


def pyenv_python(version):
    found = sorted(PYENV.glob(f"{version}.*/bin/python{version}"))
    if not found:
        pytest.skip(f"no pyenv Python {version}")
    return found[-1]


def test_first_process_of_a_new_binary_within_bound(procs, tmp_path):
    """A binary nobody runs yet: probed after the exec, within 200 ms, then exact.

    pyenv's interpreter maps its libpython only after the exec (the dynamic loader does), so
    this also covers looking again until the library is there.
    """
    python = pyenv_python("3.12")
    g = start_all(procs)
    before_exec = time.monotonic_ns()
    w = Workload(procs, tmp_path, "--seconds", "1.0", "--explicit", "--hard-exit",
                 wait=False, prefix=(python,))
    attach = g.wait_attach(w.pid)
    assert attach["binary"].endswith("libpython3.12.so.1.0"), attach
    latency = attach["time_ns"] - before_exec
    assert latency < DISCOVERY_BOUND_NS, f"traced {latency / 1e6:.1f} ms after exec"
    assert w.wait(60) == 0, w.err.snapshot()
    g.wait_exit_line(w.pid)
    recs = stop_and_records(g)
    gt = w.result()
    events = [r for r in recs if r["type"] == "gc" and r["pid"] == w.pid]
    # Every collection from the moment it was traced is there, one for one (the callbacks
    # exist from when the script started, after the interpreter's own start-up).
    match_callbacks(events, gt, max(attach["time_ns"], gt["window_start_ns"]),
                    gt["window_end_ns"])
    late = [c for c in gt["collections"] if c["start_ns"] > attach["time_ns"]]
    assert len(late) > 5, "the workload collected too little after the attach to tell"
    print(f"\ntraced {latency / 1e6:.1f} ms after exec; {len(events)} of "
          f"{sum(absolute_counts(gt))} collections seen")


def test_forked_children_traced_from_their_first_instruction(procs, tmp_path):
    """Workers forked without exec (gunicorn, multiprocessing): exact from the fork."""
    g = start_all(procs)
    parent = popen(procs, [PYTHON, FORK_WORKLOAD, tmp_path, "4", "20"])
    out = LineReader(parent.stdout, "fork workload")
    out.wait_for(lambda l: l == "done", 60, '"done"')
    assert parent.wait(10) == 0
    children = [json.loads(p.read_text()) for p in sorted(tmp_path.glob("child-*.json"))]
    assert len(children) == 4
    for c in children:
        g.wait_exit_line(c["pid"])
    recs = stop_and_records(g)
    for c in children:
        expected = [c["after"][i]["collections"] - c["before"][i]["collections"]
                    for i in range(3)]
        events = [r for r in recs if r["type"] == "gc" and r["pid"] == c["pid"]]
        assert all(expected), expected
        assert gen_counts(events) == expected, (c["pid"], gen_counts(events), expected)
        attach = [r for r in recs if r["type"] == "attach" and r["pid"] == c["pid"]]
        assert len(attach) == 1, attach


def test_burst_of_short_lived_processes(procs, tmp_path):
    """Many processes at once, Python or not, most gone before anyone looks: none leaks."""
    g = start_all(procs)
    burst = []
    for i in range(30):
        burst.append(subprocess.Popen([PYTHON, "-c", "import gc; gc.collect()"]))
        burst.append(subprocess.Popen(["/bin/true"]))
    for p in burst:
        assert p.wait(30) == 0
    pythons = {p.pid for p in burst if p.args[0] == PYTHON}
    others = {p.pid for p in burst if p.args[0] != PYTHON}
    # Every Python one that was traced is reported gone; no other program is ever traced.
    deadline = time.monotonic() + 10
    while True:
        recs = g.records()
        attached = {r["pid"] for r in recs if r["type"] == "attach"}
        exited = {r["pid"] for r in recs if r["type"] == "exit"}
        if attached & pythons <= exited or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    # /bin/true is never traced as such. Its process may have been, for a moment, as the
    # Python child of this test between fork and exec (the 10 ms before a fork is looked at can
    # pass first): then its tracing ended at the exec.
    for r in recs:
        if r["type"] == "attach" and r["pid"] in others:
            assert r["comm"] != "true" and r["binary"] == PYTHON, r
            ends = [e for e in recs if e["type"] == "exit" and e["pid"] == r["pid"]]
            assert ends and "exec" in ends[0].get("reason", ""), (r, ends)
    assert attached & pythons <= exited, attached & pythons - exited
    # Each traced one saw its explicit collection and its shutdown ones.
    for pid in attached & pythons:
        events = [r for r in recs if r["type"] == "gc" and r["pid"] == pid]
        assert gen_counts(events)[2] >= 1, (pid, events)
    assert g.proc.poll() is None, "gcpause died"
    # Nothing of the burst stays in the kernel's filter: only live traced processes are there.
    deadline = time.monotonic() + 5
    while True:
        recs = g.records()
        # Traced now: an attach last (a process that exec'd Python again has two).
        last = {r["pid"]: r["type"] for r in recs if r["type"] in ("attach", "exit")}
        live = {pid for pid, kind in last.items() if kind == "attach"}
        left = filter_map_pids(g.pid)
        if left <= live or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert left <= live, f"left in the filter: {sorted(left - live)}"
    assert not left & {p.pid for p in burst}
    recs = stop_and_records(g)
    total = recs[-1]
    assert total["type"] == "summary"
    assert all(p["exited"] for p in total["processes"] if p["pid"] in pythons)


def test_exec_to_another_program_ends_tracing(procs, tmp_path):
    """A traced Python that execs something else is no longer traced, and says so."""
    idle = idle_python(procs)
    g = start_all(procs)
    g.wait_attach(idle.pid)
    script = "import gc, os, sys; gc.collect(); sys.stdin.readline(); os.execv('/bin/cat', ['cat'])"
    p = popen(procs, [PYTHON, "-c", script], stdin=subprocess.PIPE)
    g.wait_attach(p.pid)
    p.stdin.write("go\n")
    p.stdin.flush()
    rec = g.wait_exit_line(p.pid)
    assert "exec" in rec.get("reason", ""), rec
    p.stdin.close()
    assert p.wait(10) == 0
    recs = stop_and_records(g)
    assert len([r for r in recs if r["type"] == "attach" and r["pid"] == p.pid]) == 1


def test_started_through_a_shell(procs, tmp_path):
    """sh -c 'exec python': found at its second exec, the one that runs Python."""
    idle = idle_python(procs)
    g = start_all(procs)
    g.wait_attach(idle.pid)
    out = tmp_path / "gt.json"
    sh = popen(procs, ["/bin/sh", "-c",
                       f"exec {PYTHON} {WORKLOAD} --out {out} --rounds 10 --explicit "
                       f"--hard-exit"])
    assert sh.wait(60) == 0
    g.wait_exit_line(sh.pid)
    recs = stop_and_records(g)
    gt = json.loads(out.read_text())
    events = [r for r in recs if r["type"] == "gc" and r["pid"] == sh.pid]
    assert gen_counts(events) == absolute_counts(gt)


def test_libpython_loaded_later_found_at_rescan(procs, tmp_path):
    """uwsgi-style: not Python at its exec, dlopen()s libpython later: the next rescan finds it."""
    g = start_all(procs, "--rescan", "1")
    w = Workload(procs, tmp_path, "--rounds", "20", "--explicit",
                 prefix=(DLOPEN_HOST, f"/usr/lib/x86_64-linux-gnu/{LIBPYTHON}"))
    time.sleep(0.3)  # its exec is looked at (and it is not Python yet)
    w.proc.stdin.write("load\n")
    w.proc.stdin.flush()
    w.wait_ready()
    attach = g.wait_attach(w.pid, timeout=5)
    assert attach["binary"].endswith(LIBPYTHON), attach
    w.go()
    w.wait_done()
    assert w.finish() == 0
    g.wait_exit_line(w.pid)
    recs = stop_and_records(g)
    gt = w.result()
    events = [r for r in recs if r["type"] == "gc" and r["pid"] == w.pid
              and gt["window_start_ns"] <= r["start_ns"] <= gt["window_end_ns"]]
    assert gen_counts(events) == stats_deltas(gt)
    match_callbacks(events, gt, gt["window_start_ns"], gt["window_end_ns"])


def test_unused_binary_detached_then_probed_again(procs, tmp_path):
    """A binary no process has run for --expire seconds loses its probes; a later one re-probes."""
    python = pyenv_python("3.10")
    # Only this test's interpreter: another Python started on the machine meanwhile would
    # have its own binary probed and detached, in the same lines.
    g = Gcpause(procs, ["--all", "--expire", "1", "--comm", "python3.10"], json_mode=False)
    g.err.wait_for(lambda l: "Ctrl-C to stop" in l, 30, "ready line")
    counts = []
    for _ in range(2):
        out = tmp_path / f"gt-{len(counts)}.json"
        p = popen(procs, [python, WORKLOAD, "--out", out, "--rounds", "10", "--explicit",
                          "--hard-exit"])
        g.err.wait_for(lambda l: f"tracing pid {p.pid} " in l, 10, f"tracing pid {p.pid}")
        assert p.wait(60) == 0
        g.err.wait_for(lambda l: "probes detached" in l and "1 binary" in l, 10,
                       "the binary's probes detached", start=len(g.err.snapshot()) - 1)
        counts.append(json.loads(out.read_text()))
    assert g.stop() == 0
    err = g.err.snapshot()
    # Probed twice, detached twice, and nothing went wrong on the way (no error line).
    assert len([l for l in err if "probes detached" in l]) == 2, err
    assert not [l for l in err if "cannot" in l or "error" in l], err
    # Exited processes are forgotten after --expire too: the final report has neither.
    report = "\n".join(g.out.snapshot())
    assert all(f"pid {gt['pid']} " not in report for gt in counts), report


def spawn_with_pid(procs, tmp_path, pid, *args):
    """A --wait workload given exactly `pid` (the kernel's next PID set through ns_last_pid)."""
    for _ in range(20):
        Path("/proc/sys/kernel/ns_last_pid").write_text(str(pid - 1))
        w = Workload(procs, tmp_path, *args)
        if w.pid == pid:
            return w
        w.finish()
    pytest.skip(f"could not get PID {pid} again: other processes took it")


def test_pid_reuse_never_mixes_processes(procs, tmp_path):
    """A traced process exits and its PID is reused by another, all while gcpause is stopped.

    The second one collects and exits before gcpause can look at it: its collections, queued
    under the same PID behind the first one's, must not be counted as the first one's (the
    events carry the process's start time). They are counted as unattributed, exactly.
    """
    g = start_all(procs)
    a = Workload(procs, tmp_path, "--rounds", "10", "--explicit", "--hard-exit")
    g.wait_attach(a.pid)
    a.wait_ready()
    a.go()
    a.wait_done()
    os.kill(g.pid, signal.SIGSTOP)
    try:
        assert a.finish() == 0
        b = spawn_with_pid(procs, tmp_path, a.pid, "--rounds", "10", "--explicit",
                           "--hard-exit")
        b.wait_ready()
        b.go()
        b.wait_done()
        assert b.finish() == 0
    finally:
        os.kill(g.pid, signal.SIGCONT)
    g.wait_exit_line(a.pid)
    recs = stop_and_records(g)
    ga, gb = a.result(), b.result()
    assert ga["pid"] == gb["pid"]
    events = [r for r in recs if r["type"] == "gc" and r["pid"] == a.pid]
    assert gen_counts(events) == absolute_counts(ga), (gen_counts(events), absolute_counts(ga))
    assert all(e["start_ns"] <= ga["window_end_ns"] for e in events)
    total = recs[-1]
    assert total["lost"]["unattributed"] == sum(absolute_counts(gb)), total["lost"]
    assert [p["pid"] for p in total["processes"]].count(a.pid) == 1


def test_max_processes_limit_counted_and_lifted(procs, tmp_path):
    """--max-processes: the ones over the limit are counted, and traced once room is made."""
    comm = f"gcm{os.getpid() % 100000}"
    link = tmp_path / comm
    link.symlink_to(PYTHON)
    g = Gcpause(procs, ["--all", "--comm", comm, "--max-processes", "2", "--rescan", "0.5"],
                json_mode=False)
    g.err.wait_for(lambda l: "Ctrl-C to stop" in l, 30, "ready line")
    idle = [popen(procs, [link, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE)
            for _ in range(3)]
    g.err.wait_for(lambda l: "--max-processes 2 reached" in l, 10, "the limit's line")
    traced = lambda: {p.pid for p in idle if any(f"tracing pid {p.pid} " in l
                                                  for l in g.err.snapshot())}
    time.sleep(1.2)  # two rescans: the third stays out while the limit holds
    first = traced()
    assert len(first) == 2, g.err.snapshot()
    # One of the traced ones leaves: the next rescan takes the one left out.
    leaving = next(p for p in idle if p.pid in first)
    leaving.stdin.close()
    assert leaving.wait(10) == 0
    left_out = next(p for p in idle if p.pid not in first)
    g.err.wait_for(lambda l: f"tracing pid {left_out.pid} " in l, 10, "the third one traced")
    for p in idle:
        if p is not leaving:
            p.stdin.close()
            p.wait(10)
    assert g.stop() == 0
    assert len([l for l in g.err.snapshot() if "reached" in l]) == 1, "the limit said once"
