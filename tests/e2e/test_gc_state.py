# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""The interpreter's GC state read from outside, against what the gc module says inside.

tests/workloads/gc_state_workload.py grows a heap, calls gc.set_threshold, gc.collect and
gc.freeze, gc.disable, grows its heap with the collector off, collects generation 1 and
unfreezes, printing after each change gc.get_threshold(), gc.get_count(), gc.isenabled(),
gc.get_freeze_count() and len(gc.get_objects(i)), then holding still. gcpause, with a report
every 0.3 s, must show each phase's state in the first report read after the phase's line,
and in every report read before the next change.

Every build here is covered: Debian's stripped 3.11 (table, located through the exported
_PyRuntime), pyenv's 3.8 to 3.13 (tables that DWARF gives), and Debian's 3.13, 3.14 and 3.15
chrooted in build/rootfs (_Py_DebugOffsets, then the table).

Thresholds, enabled, frozen and the objects tracked by generations 1 and 2 must be equal.
Generation 0's count and tracked objects may differ by a few dozen: the measurement inside
allocates (the lists gc.get_objects returns, the JSON line) and frees most of it again.
"""
import glob
import json
import shutil
from pathlib import Path

import pytest

from conftest import BUILD, REPO, Gcpause, LineReader, popen

WORKLOAD = REPO / "tests" / "workloads" / "gc_state_workload.py"
HEAP = 60000
HOLD = 1.2
GEN0_SLACK = 32

PYENV = "/root/.pyenv/versions"
ROOTFS = {"3.13": "trixie-python3.13", "3.14": "forky-python3.14",
          "3.15": "forky-python3.15"}
BUILDS = (["debian-3.11"] + [f"pyenv-{m}" for m in ("3.8", "3.9", "3.10", "3.11", "3.12",
                                                    "3.13")] +
          [f"rootfs-{m}" for m in ROOTFS])


def command_for(build):
    kind, minor = build.split("-")
    if kind == "debian":
        return ["/usr/bin/python3.11", WORKLOAD]
    if kind == "pyenv":
        found = sorted(glob.glob(f"{PYENV}/{minor}.*/bin/python{minor}"))
        if not found:
            pytest.skip(f"no pyenv Python {minor}")
        return [found[-1], WORKLOAD]
    root = (BUILD / "rootfs" / ROOTFS[minor]).resolve()
    if not (root / f"usr/bin/python{minor}").exists():
        pytest.skip(f"no {root} (scripts/make-rootfs.sh builds it)")
    shutil.copyfile(WORKLOAD, root / "gc_state_workload.py")
    # chroot execs the interpreter: the PID is the Python's.
    return ["chroot", root, f"/usr/bin/python{minor}", "/gc_state_workload.py"]


def check_phase(phase, nxt, reads):
    # A reading spans time: only those wholly inside the phase.
    window = [r for r in reads if phase["truth_ns"] < r["time_ns"] and
              r["time_ns"] + r["read_ns"] < nxt]
    assert window, f"no GC state read while phase {phase['phase']} held"
    for r in window:
        what = f"phase {phase['phase']}: gcpause read {r}, the gc module said {phase}"
        assert r["threshold"] == phase["threshold"], what
        assert r["enabled"] == phase["enabled"], what
        assert r["frozen"] == phase["frozen"], what
        assert not r["capped"] and not r["approximate"], what
        assert r["tracked"][1:] == phase["tracked"][1:], what
        assert abs(r["tracked"][0] - phase["tracked"][0]) <= GEN0_SLACK, what
        assert abs(r["count"][0] - phase["count"][0]) <= GEN0_SLACK, what
        assert r["count"][1:] == phase["count"][1:], what


@pytest.mark.parametrize("build", BUILDS)
def test_gc_state_follows_each_change(procs, build):
    cmd = command_for(build) + [HEAP, HOLD]
    wl = popen(procs, cmd, stdin=__import__("subprocess").PIPE)
    out = LineReader(wl.stdout, "workload stdout")
    out.wait_for(lambda l: l == "ready", 30, "ready")
    gp = Gcpause(procs, ["-i", "0.3", "-p", wl.pid])
    gp.wait_attach(wl.pid)
    wl.stdin.write("go\n")
    wl.stdin.flush()
    out.wait_for(lambda l: l == "done", 90, "done")
    assert wl.wait(10) == 0
    gp.wait(15)
    reads = []
    for rec in gp.records():
        if rec["type"] != "summary":
            continue
        for p in rec["processes"]:
            assert "gc_state_unavailable" not in p, p["gc_state_unavailable"]
            if p["pid"] == wl.pid and "gc_state" in p:
                reads.append(p["gc_state"])
    phases = [json.loads(l) for l in out.snapshot() if l.startswith("{")]
    assert [p["phase"] for p in phases] == ["heap", "set_threshold", "collect_freeze",
                                            "disable", "grow_disabled", "collect_gen1",
                                            "unfreeze"]
    for i, phase in enumerate(phases):
        nxt = phases[i + 1]["change_ns"] if i + 1 < len(phases) else phase["truth_ns"] + \
            int(HOLD * 1e9)
        check_phase(phase, nxt, reads)
    # The changes are visible: a frozen heap, then thresholds, then the collector off.
    assert phases[2]["frozen"] >= HEAP
    assert phases[4]["tracked"][0] >= HEAP // 2
