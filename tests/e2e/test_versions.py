# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""Function probes on every pyenv CPython here (built without GC markers).

Each version runs the ground-truth workload under `gcpause -- python3.X ...`,
with explicit collections and garbage whose __del__ calls gc.collect() from
inside a collection. gcpause must see every collection from the first one,
with the right generation and collected count, the interpreter-shutdown
collections after the script, and no collection for the nested calls.
"""

import glob
import json
import os
import shutil
import subprocess

import pytest

from conftest import (WORKLOAD, Gcpause, check_no_losses, check_summary, event_end,
                      gen_counts)

PYENV = "/root/.pyenv/versions"
VERSIONS = ["3.8", "3.9", "3.10", "3.11", "3.12", "3.13"]


def pyenv_python(minor):
    found = sorted(glob.glob(f"{PYENV}/{minor}.*/bin/python{minor}"))
    if not found:
        pytest.skip(f"no pyenv Python {minor} under {PYENV}")
    return found[-1]


def libpython_of(python):
    minor = os.path.basename(python)[len("python"):]
    return os.path.join(os.path.dirname(os.path.dirname(python)), "lib",
                        f"libpython{minor}.so.1.0")


def callbacks_inside_function(minor):
    """From 3.13 gc.callbacks run inside the probed function, before that around it."""
    return tuple(int(x) for x in minor.split(".")) >= (3, 13)


def match_collections(events, gt):
    """One event per callback-recorded collection, same generation, collected and thread.

    The markers leave gc.callbacks out of the pause, and so must the function
    probes: up to 3.12 the callbacks run around the function; from 3.13 they
    run inside it and gcpause moves the window past them. Either way each
    event lies inside its callback interval.
    """
    evs = sorted(events, key=lambda e: e["start_ns"])
    cbs = sorted(gt["collections"], key=lambda c: c["start_ns"])
    assert len(cbs) > 0
    used = set()
    problems = []
    for c in cbs:
        hits = [i for i, e in enumerate(evs)
                if c["start_ns"] <= e["start_ns"] and event_end(e) <= c["end_ns"]]
        if len(hits) != 1:
            problems.append(f"callback {c}: {len(hits)} events")
            continue
        e = evs[hits[0]]
        used.add(hits[0])
        want = c["collected"] + c["uncollectable"]
        if (e["gen"], e["collected"], e["tid"]) != (c["gen"], want, c["tid"]):
            problems.append(f"callback {c} (collected+uncollectable {want}) vs event {e}")
    assert not problems, "\n".join(problems[:10])
    return used


def run_version(procs, tmp_path, python, extra_env=None, probe_args=()):
    out = tmp_path / "gt.json"
    env = dict(os.environ, **(extra_env or {}))
    gp = Gcpause(procs, list(probe_args) + ["--", python, WORKLOAD, "--explicit", "--nested",
                                           "--heap", "20000", "--rounds", "20", "--out", out],
                 env=env)
    assert gp.wait(timeout=90) == 0, f"gcpause stderr: {gp.err.snapshot()}"
    with open(out) as f:
        gt = json.load(f)
    return gp, gt


def check_version(gp, gt, minor, tier, binary):
    pid = gt["pid"]
    recs = gp.records()
    attach = [r for r in recs if r["type"] == "attach"]
    assert len(attach) == 1 and attach[0]["pid"] == pid, attach
    assert attach[0]["probe"] == tier, attach[0]
    assert attach[0]["binary"] == binary, attach[0]
    # Py_Version tells the whole version from 3.11; before, only the file name does.
    if tuple(int(x) for x in minor.split(".")) >= (3, 11):
        assert attach[0]["version"] == gt["version"], (attach[0], gt["version"])
    else:
        assert attach[0]["version"] == minor, (attach[0], minor)
    assert "caveat" not in attach[0], attach[0]
    if callbacks_inside_function(minor):
        # 3.13 tells automatic collections apart only through the interpreter's counters:
        # found through DWARF when there are symbols, through _Py_DebugOffsets when stripped.
        want = "DWARF" if tier == "symbol" else "_Py_DebugOffsets"
        assert attach[0].get("generation_counters") == want, attach[0]
    else:
        assert "generation_counters" not in attach[0], attach[0]

    events = gp.events(pid)
    assert events, "no collection seen"
    # CPython never nests a real collection: nested gc.collect() calls return 0.
    assert gt["nested_returns"] and set(gt["nested_returns"]) == {0}
    assert all(e["depth"] == 0 for e in events), [e for e in events if e["depth"]][:3]
    assert all(e["gen"] in (0, 1, 2) for e in events), [e["gen"] for e in events][:20]

    # gc.get_stats() counts every collection since interpreter start: traced
    # from the first one, the events before the script's end are exactly those.
    upto = [e for e in events if e["start_ns"] < gt["window_end_ns"]]
    want = [s["collections"] for s in gt["stats_after"]]
    assert gen_counts(upto) == want, f"events per gen {gen_counts(upto)} != stats {want}"
    collected = [sum(e["collected"] for e in upto if e["gen"] == g) for g in range(3)]
    assert collected == [s["collected"] + s["uncollectable"] for s in gt["stats_after"]]
    # Collections with callbacks match one by one (the early ones, before the
    # callback was installed, are covered by the counts above).
    recorded = [e for e in upto if e["start_ns"] >= gt["window_start_ns"]]
    used = match_collections(recorded, gt)
    assert len(used) == len(recorded), "events without a matching callback"
    # After the script: the interpreter's shutdown collections, gen 2.
    after = [e for e in events if e["start_ns"] >= gt["window_end_ns"]]
    assert after and all(e["gen"] == 2 for e in after), after

    total = gp.total()
    check_no_losses(total)
    check_summary(total, pid, events, exited=True, probe=tier)
    skipped = total["calls_without_collection"]
    if callbacks_inside_function(minor):
        # 3.13 enters gc_collect_main for each nested call, which returns 0 at once; an
        # automatic call that finds nothing to collect returns 0 too. None may be a pause
        # (the exact counts above prove it), and every nested one must have been dropped.
        assert skipped >= len(gt["nested_returns"]), (skipped, len(gt["nested_returns"]))
    else:
        assert skipped == 0, skipped


@pytest.mark.parametrize("minor", VERSIONS)
def test_symbol_tier(procs, tmp_path, minor):
    python = pyenv_python(minor)
    gp, gt = run_version(procs, tmp_path, python)
    check_version(gp, gt, minor, "symbol", libpython_of(python))


def stripped_copy(python, tmp_path):
    lib = libpython_of(python)
    libdir = tmp_path / "lib"
    libdir.mkdir()
    copy = libdir / os.path.basename(lib)
    subprocess.run(["strip", "--strip-all", "-o", str(copy), lib], check=True)
    return lib, libdir, copy


@pytest.mark.parametrize("minor", VERSIONS)
def test_stripped_tier(procs, tmp_path, minor):
    """A libpython run through strip --strip-all, loaded through LD_LIBRARY_PATH."""
    python = pyenv_python(minor)
    _, libdir, copy = stripped_copy(python, tmp_path)
    gp, gt = run_version(procs, tmp_path, python, {"LD_LIBRARY_PATH": str(libdir)})
    check_version(gp, gt, minor, "stripped", str(copy))


@pytest.mark.parametrize("minor", ["3.9", "3.12"])
def test_debuglink_beside_stripped_copy(procs, tmp_path, minor):
    """The same stripped copy, with its debug file beside it: back to the symbol tier."""
    python = pyenv_python(minor)
    lib, libdir, copy = stripped_copy(python, tmp_path)
    debug = libdir / (copy.name + ".debug")
    subprocess.run(["objcopy", "--only-keep-debug", lib, str(debug)], check=True)
    subprocess.run(["objcopy", "--add-gnu-debuglink=" + str(debug), str(copy)], check=True,
                   cwd=libdir)
    gp, gt = run_version(procs, tmp_path, python, {"LD_LIBRARY_PATH": str(libdir)})
    check_version(gp, gt, minor, "symbol", str(copy))
    attach = next(r for r in gp.records() if r["type"] == "attach")
    assert str(debug) in attach["probe_source"], attach


def test_build_id_debug_file(procs, tmp_path):
    """The stripped copy again, its debug file under /usr/lib/debug/.build-id/."""
    python = pyenv_python("3.11")
    lib, libdir, copy = stripped_copy(python, tmp_path)
    notes = subprocess.run(["readelf", "-n", str(copy)], capture_output=True, text=True,
                           check=True).stdout
    build_id = next(l.split()[-1] for l in notes.splitlines() if "Build ID" in l)
    debug_dir = f"/usr/lib/debug/.build-id/{build_id[:2]}"
    debug = f"{debug_dir}/{build_id[2:]}.debug"
    if os.path.exists(debug):
        pytest.skip(f"{debug} exists already; not overwriting it")
    os.makedirs(debug_dir, exist_ok=True)
    try:
        subprocess.run(["objcopy", "--only-keep-debug", lib, debug], check=True)
        gp, gt = run_version(procs, tmp_path, python, {"LD_LIBRARY_PATH": str(libdir)})
        check_version(gp, gt, "3.11", "symbol", str(copy))
        attach = next(r for r in gp.records() if r["type"] == "attach")
        assert "build-id" in attach["probe_source"] and debug in attach["probe_source"], attach
    finally:
        os.unlink(debug)
        try:
            os.rmdir(debug_dir)
        except OSError:
            pass


def test_forced_usdt_on_markerless_build(procs, gcpause_bin):
    python = pyenv_python("3.12")
    res = subprocess.run([str(gcpause_bin), "--json", "--probe", "usdt", "--", python, "-c",
                          "pass"], capture_output=True, text=True, timeout=30)
    assert res.returncode == 1, res
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and "no gc markers" in lines[0].lower(), lines
