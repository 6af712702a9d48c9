# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""-p: a traced process that replaces its program (exec) is followed, or let go with a line.

The exec tracepoint reports the execs of the traced processes; the new program is looked at
and, when it is Python, traced under the same PID, its collections counted apart from the old
program's. Ground truth: the old program's gc.get_stats() around its collections, the new
one's gc.get_stats() since its interpreter started (every collection of it is seen when its
binary is probed already, here through another traced process).
"""

import json
import subprocess
from pathlib import Path

import pytest

from conftest import PYTHON, WORKLOAD, Gcpause, gen_counts, popen

PYENV = Path("/root/.pyenv/versions")
ROUNDS = 9  # explicit collections of the old program, three per generation

# The old program: waits until it is traced, collects ROUNDS times with automatic collections
# off (so that gc.get_stats() tells exactly), records that, and replaces itself with argv[2:].
PRELUDE = r"""
import gc, json, os, sys, time
sys.stdin.readline()
gc.disable()
before = gc.get_stats()
t0 = time.monotonic_ns()
for i in range(%d):
    gc.collect(i %% 3)
t1 = time.monotonic_ns()
after = gc.get_stats()
with open(sys.argv[1], "w") as f:
    json.dump({"before": before, "after": after, "t0": t0, "t1": t1}, f)
sys.stdout.flush()
os.execv(sys.argv[2], sys.argv[2:])
""" % ROUNDS


def pyenv_python(version):
    found = sorted(PYENV.glob(f"{version}.*/bin/python{version}"))
    if not found:
        pytest.skip(f"no pyenv Python {version}")
    return found[-1]


def start_prelude(procs, tmp_path, *new_argv):
    out = tmp_path / "old.json"
    p = popen(procs, [PYTHON, "-c", PRELUDE, out, *new_argv], stdin=subprocess.PIPE)
    return p, out


def old_counts(old):
    return [old["after"][g]["collections"] - old["before"][g]["collections"] for g in range(3)]


def entries(total, pid):
    return [p for p in total["processes"] if p["pid"] == pid]


def test_exec_into_another_python_is_followed(procs, tmp_path):
    """python3.11 -p execs pyenv's 3.12: the old program's collections are its own, the new
    one is traced under the same PID, every collection of it counted."""
    python312 = pyenv_python("3.12")
    # Keeps 3.12's libpython probed: the new program is then seen from its first collection.
    keeper = popen(procs, [python312, "-c", "import sys; sys.stdin.read()"],
                   stdin=subprocess.PIPE)
    gt_file = tmp_path / "new.json"
    p, old_file = start_prelude(procs, tmp_path, python312, WORKLOAD, "--out", gt_file,
                                "--rounds", "10", "--explicit", "--hard-exit")
    g = Gcpause(procs, ["-p", p.pid, "-p", keeper.pid])
    first = g.wait_attach(p.pid)
    g.wait_attach(keeper.pid)
    assert first["version"].startswith("3.11."), first
    p.stdin.write("go\n")
    p.stdin.flush()
    end = g.wait_exit_line(p.pid)
    assert end.get("reason") == "replaced its program (exec)", end
    second = g.wait_record(lambda r: r["type"] == "attach" and r["pid"] == p.pid
                           and r["version"].startswith("3.12."),
                           30, "the new program's attach line")
    assert second["binary"].endswith("libpython3.12.so.1.0"), second
    assert p.wait(60) == 0
    g.wait_record(lambda r: r["type"] == "exit" and r["pid"] == p.pid and "reason" not in r,
                  15, "the new program's exit")
    keeper.stdin.close()
    assert g.wait(30) == 0, g.err.snapshot()
    old, new = json.loads(old_file.read_text()), json.loads(gt_file.read_text())
    want_new = [new["stats_after"][g_]["collections"] for g_ in range(3)]
    assert sum(want_new) > 10 and old_counts(old) == [3, 3, 3]

    total = g.total()
    progs = entries(total, p.pid)
    assert [e["version"][:4] for e in progs] == ["3.11", "3.12"], progs
    assert [e["generations"][i]["count"] for i in range(3)
            for e in progs[:1]] == old_counts(old), progs[0]
    assert [e["generations"][i]["count"] for i in range(3)
            for e in progs[1:]] == want_new, progs[1]
    # Event by event: the old program's lie in its window, the new one's after its exec.
    events = [r for r in g.records() if r["type"] == "gc" and r["pid"] == p.pid]
    old_events = [e for e in events if e["start_ns"] < old["t1"]]
    assert all(old["t0"] <= e["start_ns"] for e in old_events)
    assert gen_counts(old_events) == old_counts(old)
    assert gen_counts([e for e in events if e["start_ns"] > old["t1"]]) == want_new
    lines = g.err.snapshot()
    assert not [l for l in lines if "error" in l or "cannot" in l], lines


def test_exec_into_another_program_ends_tracing(procs, tmp_path):
    """python3.11 -p execs /bin/sleep: said in a line, in the report, and gcpause ends when
    nothing traced is left (the program is not followed)."""
    p, old_file = start_prelude(procs, tmp_path, "/bin/sleep", "30")
    g = Gcpause(procs, ["-p", p.pid], json_mode=False)
    g.err.wait_for(lambda l: f"tracing pid {p.pid} " in l, 30, "the tracing line")
    p.stdin.write("go\n")
    p.stdin.flush()
    line = g.err.wait_for(lambda l: f"pid {p.pid} " in l and "not Python" in l, 15,
                          "the line about the new program")
    assert "/bin/sleep" in line or "/usr/bin/sleep" in line, line
    # Nothing is left to trace: the summary, while sleep still runs.
    assert g.wait(15) == 0, g.err.snapshot()
    assert p.poll() is None
    report = "\n".join(g.out.snapshot())
    assert "(replaced its program (exec) with one that is not Python)" in report, report
    old = json.loads(old_file.read_text())
    assert old_counts(old) == [3, 3, 3]
    counts = {}
    for l in g.out.snapshot():
        f = l.split()
        if len(f) > 2 and f[0] in ("0", "1", "2") and f[1].isdigit():
            counts[int(f[0])] = int(f[1])
    assert [counts.get(i) for i in range(3)] == old_counts(old), report
