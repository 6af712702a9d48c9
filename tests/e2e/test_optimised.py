# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""The official Docker images' code shape: optimised, stripped interpreters without markers.

The python:3.X images are built with --enable-optimizations --with-lto and linked with
--strip-all: GCC PGO+LTO code, no .symtab, no GC markers. Debian builds its interpreters the
same way (PGO+LTO executables with libpython linked in, stripped), plus the two marker `nop`s.
Forced to --probe stripped, Debian's 3.11 (host), 3.13, 3.14 and 3.15 (debootstrapped roots)
are that shape exactly, and their markers measure every pause independently.

For each build, by -p, by --all and by -- COMMAND: every collection is matched one to one
against the workload's own gc.callbacks record (generation, thread, collected; the event inside
its callback window) and the per-generation counts equal gc.get_stats(). The -p run has a
second gcpause on the markers at the same time: both see the same collections, and the windows
are compared (docs/versions.md has the figures).
"""

import json
import os
import shutil
import statistics
import subprocess
from pathlib import Path

import pytest

from conftest import (GCPAUSE, PYTHON, WORKLOAD, Gcpause, Workload, check_no_losses, check_window, event_end,
                      gen_counts, match_callbacks, popen, run_gcpause)
from test_rootfs import RootfsWorkload, build_rootfs

BUILDS = ["3.11", "3.13", "3.14", "3.15"]
HEAP = "30000"
# Each window holds the other tracer's traps (~15 µs each on this VM, more with a ring-buffer
# wake-up at the markers' end); a median beyond this means the windows are not the same.
MEDIAN_WINDOW_DIFF_NS = 250_000


class HostBuild:
    version = "3.11"
    root = None
    python = host_python = PYTHON

    def workload(self, procs, tmp_path, *args):
        w = Workload(procs, tmp_path, *args)
        return w

    def on_host(self):
        return PYTHON


class RootBuild:
    def __init__(self, fs):
        self.fs = fs
        self.version = fs.version
        self.root = fs.root
        self.python = fs.python
        self.host_python = fs.host_python

    def workload(self, procs, tmp_path, *args):
        return RootfsWorkload(procs, self.fs, *args)

    def on_host(self):
        """The root's interpreter, run on the host: the same file with its ELF interpreter and
        RUNPATH pointed into the root (patchelf), kept beside it so that it finds its stdlib."""
        if shutil.which("patchelf") is None:
            pytest.skip("patchelf is not installed")
        copy = Path(str(self.host_python) + "-onhost")
        if not copy.exists():
            tmp = Path(str(copy) + ".tmp")
            shutil.copyfile(self.host_python, tmp)
            os.chmod(tmp, 0o755)
            libs = f"{self.root}/lib/x86_64-linux-gnu:{self.root}/usr/lib/x86_64-linux-gnu"
            subprocess.run(["patchelf", "--set-interpreter",
                            f"{self.root}/lib64/ld-linux-x86-64.so.2", "--set-rpath", libs,
                            str(tmp)], check=True, timeout=60)
            os.replace(tmp, copy)
        return str(copy)


@pytest.fixture(scope="module", params=BUILDS, ids=lambda v: f"py{v}")
def build(request):
    if request.param == "3.11":
        if not os.path.exists(PYTHON):
            pytest.skip(f"no {PYTHON}")
        return HostBuild()
    return RootBuild(build_rootfs(request.param))


def one_probe(build):
    """3.15+ keep each collection's start and end in their statistics: one probe after it."""
    return tuple(int(x) for x in build.version.split(".")) >= (3, 15)


def check_stripped_attach(attach, build, tier="stripped"):
    assert one_probe(build) == ("one probe after each collection" in attach["probe_source"]), \
        attach
    assert attach["probe"] == tier, attach
    if tier == "stripped":
        assert attach["probe_source"].startswith("located without symbols"), attach
    assert "caveat" not in attach, attach
    assert attach["version"].startswith(build.version + "."), attach
    if build.version != "3.11":
        # 3.13+ tell automatic collections apart through the interpreter's counters.
        assert attach.get("generation_counters") == "_Py_DebugOffsets", attach


def compare_windows(stripped, markers):
    """Same collections, one for one; how far apart their windows' ends lie (ns)."""
    s = sorted(stripped, key=lambda e: e["start_ns"])
    m = sorted(markers, key=lambda e: e["start_ns"])
    assert len(s) == len(m), (len(s), len(m))
    for a, b in zip(s, m):
        assert (a["gen"], a["collected"], a["tid"]) == (b["gen"], b["collected"], b["tid"]), \
            (a, b)
    starts = [a["start_ns"] - b["start_ns"] for a, b in zip(s, m)]
    ends = [event_end(a) - event_end(b) for a, b in zip(s, m)]
    durs = [abs(a["duration_ns"] - b["duration_ns"]) for a, b in zip(s, m)]
    return statistics.median(starts), statistics.median(ends), statistics.median(durs), max(durs)


def test_pid_matches_callbacks_and_markers(procs, tmp_path, build):
    wl = build.workload(procs, tmp_path, "--explicit", "--nested", "--heap", HEAP,
                        "--rounds", "30")
    wl.wait_ready()
    stripped = Gcpause(procs, ["--probe", "stripped", "-p", wl.pid])
    markers = Gcpause(procs, ["--probe", "usdt", "-p", wl.pid])
    attach = stripped.wait_attach(wl.pid)
    assert markers.wait_attach(wl.pid)["probe"] == "usdt"
    wl.go()
    wl.wait_done()
    assert stripped.stop() == 0, stripped.err.snapshot()
    assert markers.stop() == 0, markers.err.snapshot()
    assert wl.finish() == 0, wl.err.snapshot()
    gt = wl.result()
    check_stripped_attach(attach, build)
    assert stripped.err.snapshot() == [], stripped.err.snapshot()

    window = check_window(stripped.events(), gt)
    counts = gen_counts(window)
    assert all(c > 0 for c in counts), f"the workload did not exercise every generation: {counts}"
    check_no_losses(stripped.total())
    if one_probe(build):
        # Nested and no-op calls never reach the one probe after a collection.
        assert stripped.total()["calls_without_collection"] == 0
    elif build.version != "3.11":
        assert stripped.total()["calls_without_collection"] >= len(gt["nested_returns"])

    marked = check_window(markers.events(), gt)
    start, end, dur, worst = compare_windows(window, marked)
    print(f"\n{build.version}: {len(window)} collections; stripped - markers: start "
          f"{start / 1e3:.1f} µs, end {end / 1e3:.1f} µs (medians); |duration| median "
          f"{dur / 1e3:.1f} µs, max {worst / 1e3:.1f} µs")
    assert dur < MEDIAN_WINDOW_DIFF_NS, (start, end, dur)


def test_all_traces_new_processes_from_first_collection(procs, tmp_path, build):
    """--all --probe stripped: workloads started later are exact from their first collection."""
    if build.root is None:
        idle_cmd = [PYTHON, "-c", "import sys; sys.stdin.read()"]
    else:
        idle_cmd = ["chroot", str(build.root), build.python, "-c",
                    "import sys; sys.stdin.read()"]
    # One process keeps the binary probed: later ones are traced from their first instruction.
    idle = popen(procs, idle_cmd, stdin=subprocess.PIPE)
    g = Gcpause(procs, ["--all", "--probe", "stripped", "--comm", f"python{build.version}"])
    g.wait_record(lambda r: r["type"] == "ready", 30, "ready record")
    g.wait_attach(idle.pid)
    wl = build.workload(procs, tmp_path, "--explicit", "--heap", HEAP, "--rounds", "20")
    wl.wait_ready()
    attach = g.wait_attach(wl.pid)
    wl.go()
    wl.wait_done()
    assert wl.finish() == 0, wl.err.snapshot()
    g.wait_exit_line(wl.pid)
    assert g.stop() == 0, g.err.snapshot()
    gt = wl.result()
    check_stripped_attach(attach, build)
    events = g.events(wl.pid)
    upto = [e for e in events if e["start_ns"] < gt["window_end_ns"]]
    expected = [gt["stats_after"][i]["collections"] for i in range(3)]
    assert gen_counts(upto) == expected, (gen_counts(upto), expected)
    match_callbacks(events, gt, gt["window_start_ns"], gt["window_end_ns"])
    # Other processes of that name on the host may be picked up mid-collection (unmatched
    # ends); nothing may be dropped or misread.
    total = g.total()
    assert total["dropped_events"] == 0, total
    assert total["lost"]["ringbuf_full"] == total["lost"]["arg_read_failed"] == 0, total


def test_command_traced_from_first_collection(procs, tmp_path, build):
    """-- COMMAND --probe stripped: from the interpreter's first collection to its shutdown."""
    python = build.on_host()
    out = tmp_path / "gt.json"
    gp = Gcpause(procs, ["--probe", "stripped", "--", python, WORKLOAD, "--explicit",
                         "--nested", "--heap", "20000", "--rounds", "20", "--out", out])
    assert gp.wait(timeout=120) == 0, gp.err.snapshot()
    with open(out) as f:
        gt = json.load(f)
    attach = [r for r in gp.records() if r["type"] == "attach"]
    assert len(attach) == 1 and attach[0]["pid"] == gt["pid"], attach
    check_stripped_attach(attach[0], build)
    events = gp.events(gt["pid"])
    upto = [e for e in events if e["start_ns"] < gt["window_end_ns"]]
    expected = [s["collections"] for s in gt["stats_after"]]
    assert gen_counts(upto) == expected, (gen_counts(upto), expected)
    collected = [sum(e["collected"] for e in upto if e["gen"] == g) for g in range(3)]
    assert collected == [s["collected"] + s["uncollectable"] for s in gt["stats_after"]]
    match_callbacks(events, gt, gt["window_start_ns"], gt["window_end_ns"])
    after = [e for e in events if e["start_ns"] >= gt["window_end_ns"]]
    assert after and all(e["gen"] == 2 for e in after), after
    check_no_losses(gp.total())


def with_symbol(path, name, vaddr):
    """A copy of path whose .symtab names vaddr (in .text): a build that kept its symbols."""
    copy = Path(str(path) + "-symtab")
    if copy.exists():
        return copy
    out = subprocess.run(["readelf", "-SW", str(path)], capture_output=True, text=True,
                         check=True, timeout=30).stdout
    text = [line.split("]", 1)[1].split() for line in out.splitlines()
            if "]" in line and line.split("]", 1)[1].split()[:1] == [".text"]]
    offset = vaddr - int(text[0][2], 16)
    tmp = Path(str(copy) + ".tmp")
    subprocess.run(["objcopy", "--add-symbol", f"{name}=.text:{offset:#x},global,function",
                    str(path), str(tmp)], check=True, timeout=60)
    os.replace(tmp, copy)
    return copy


def test_symbol_tier_on_optimised_code(procs, tmp_path, build):
    """The same executable with gc_collect_main in a .symtab: the symbol tier, as exact."""
    if build.root is None:
        pytest.skip("the host's 3.11 is covered by its markers and the stripped tier")
    # Where the stripped tier finds it, said by `list` for a process of that build.
    idle = popen(procs, ["chroot", str(build.root), build.python, "-c",
                         "import sys; print('up', flush=True); sys.stdin.read()"],
                 stdin=subprocess.PIPE)
    assert idle.stdout.readline().strip() == "up"
    r = run_gcpause([GCPAUSE, "list", "--probe", "stripped", "--json", "-p", idle.pid], timeout=60)
    row = json.loads(r.stdout.splitlines()[0])
    assert row["probe"] == "stripped", row
    source = row["probe_source"]
    assert source.startswith("located without symbols: 0x"), source
    vaddr = int(source.split(": ", 1)[1].split(",")[0], 16)
    copy = with_symbol(build.host_python, "gc_collect_main", vaddr)
    fs = type(build.fs)(build.version, build.fs.suite, build.root)
    fs.python = build.python + "-symtab"
    fs.host_python = copy
    wl = RootfsWorkload(procs, fs, "--explicit", "--nested", "--heap", HEAP, "--rounds", "20")
    wl.wait_ready()
    gp = Gcpause(procs, ["--probe", "symbol", "-p", wl.pid])
    attach = gp.wait_attach(wl.pid)
    wl.go()
    wl.wait_done()
    assert gp.stop() == 0, gp.err.snapshot()
    assert wl.finish() == 0, wl.err.snapshot()
    check_stripped_attach(attach, build, tier="symbol")
    assert attach.get("generation_counters") == "_Py_DebugOffsets", attach
    check_window(gp.events(), wl.result())


def without_markers(path):
    """A copy of path without its .note.stapsdt: the python:3.X image's executable exactly (the
    markers' `nop`s stay in the code, as harmless as in any build)."""
    copy = Path(str(path) + "-nomarkers")
    if not copy.exists():
        tmp = Path(str(copy) + ".tmp")
        subprocess.run(["objcopy", "--remove-section", ".note.stapsdt", str(path), str(tmp)],
                       check=True, timeout=60)
        os.replace(tmp, copy)
    return copy


def test_markerless_build_gets_the_stripped_tier(procs, tmp_path, build):
    """No markers, no symbols: `list` and a plain -p choose the stripped tier, exactly."""
    if build.root is None:
        pytest.skip("the host's 3.11 is covered by the forced runs")
    copy = without_markers(build.host_python)
    fs = type(build.fs)(build.version, build.fs.suite, build.root)
    fs.python = build.python + "-nomarkers"
    fs.host_python = copy
    wl = RootfsWorkload(procs, fs, "--explicit", "--heap", HEAP, "--rounds", "20")
    wl.wait_ready()
    r = run_gcpause([GCPAUSE, "list", "--json", "-p", wl.pid], timeout=60)
    assert r.returncode == 0, r.stderr
    row = json.loads(r.stdout.splitlines()[0])
    assert row["probe"] == "stripped" and "error" not in row, row
    gp = Gcpause(procs, ["-p", wl.pid])
    attach = gp.wait_attach(wl.pid)
    wl.go()
    wl.wait_done()
    assert gp.stop() == 0, gp.err.snapshot()
    assert wl.finish() == 0, wl.err.snapshot()
    check_stripped_attach(attach, build)
    check_window(gp.events(), wl.result())


def test_located_while_another_instance_probes_it(procs, tmp_path, build):
    """A uprobe is put into every executable-capable mapping of its file, a reader's own
    read-only mmap included: a second gcpause (`list` beside a running serve) must read the
    code as it is on disk, not with the first one's breakpoints in it."""
    wl = build.workload(procs, tmp_path, "--explicit", "--heap", HEAP, "--rounds", "5")
    wl.wait_ready()
    first = Gcpause(procs, ["--probe", "stripped", "-p", wl.pid])
    first.wait_attach(wl.pid)
    r = run_gcpause([GCPAUSE, "list", "--probe", "stripped", "--json", "-p", wl.pid],
                    timeout=60)
    row = json.loads(r.stdout.splitlines()[0])
    assert r.returncode == 0 and row["probe"] == "stripped", row
    wl.go()
    wl.wait_done()
    assert first.stop() == 0
    assert wl.finish() == 0
