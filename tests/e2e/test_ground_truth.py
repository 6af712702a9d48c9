# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""gcpause's events and summaries against the interpreter's own account.

The workload records every collection with gc.callbacks and snapshots
gc.get_stats() around a measurement window; gcpause must report exactly those
collections: one event per collection, inside the callback's interval, with
the same generation, thread and collected count, and nothing else.
"""

import json
import time

import pytest

from conftest import (LIBPYTHON, PYTHON, WORKLOAD, Gcpause, Workload, check_attach,
                      check_no_losses, check_summary, check_window,
                      event_end, gen_counts, match_callbacks, stats_deltas)

# Big enough that gen-2 collections take milliseconds, small enough to be quick.
HEAP = "100000"


def trace_window(procs, tmp_path, workload_args, prefix=(PYTHON,)):
    """Attach to a --wait workload, run its window, stop gcpause.

    Returns (gcpause, ground truth, attach record).
    """
    wl = Workload(procs, tmp_path, *workload_args, prefix=prefix)
    wl.wait_ready()
    gp = Gcpause(procs, ["-p", wl.pid])
    attach = gp.wait_attach(wl.pid)
    wl.go()
    wl.wait_done()
    assert gp.stop() == 0, f"gcpause exit code; stderr: {gp.err.snapshot()}"
    assert wl.finish() == 0
    return gp, wl.result(), attach


def test_python311_matches_ground_truth(procs, tmp_path):
    gp, gt, attach = trace_window(
        procs, tmp_path, ["--explicit", "--heap", HEAP, "--rounds", "40"])
    check_attach(attach, gt["pid"], PYTHON, comm="python3.11", version=gt["version"])
    # In JSON mode the human status lines are off; stderr is for errors only.
    assert gp.err.snapshot() == [], f"stderr in --json mode: {gp.err.snapshot()}"

    window = check_window(gp.events(), gt)
    counts = gen_counts(window)
    # The test is only meaningful if every generation was exercised.
    assert all(c > 0 for c in counts), f"workload did not exercise all generations: {counts}"
    # The heap makes full collections take real time; a tracer reporting
    # zeros or garbage durations would not get here.
    assert max(e["duration_ns"] for e in window if e["gen"] == 2) > 500_000

    total = gp.total()
    check_no_losses(total)
    proc = check_summary(total, gt["pid"], gp.events(), exited=False)
    assert proc["comm"] == "python3.11" and proc["binary"] == PYTHON
    assert proc["version"] == gt["version"]
    # Nothing but the window happened while traced (the workload idles on
    # stdin before and after it), so the summary counts are the stats deltas.
    assert [g["count"] for g in proc["generations"]] == stats_deltas(gt)


def test_attach_mid_work(procs, tmp_path):
    """Attach while the target is busy collecting; everything after attach is seen."""
    wl = Workload(procs, tmp_path, "--busy-before", "1", "--explicit", "--heap", "20000",
                  "--rounds", "20")
    wl.wait_ready()
    # The workload is now making garbage (and collecting) until "go".
    time.sleep(0.3)
    gp = Gcpause(procs, ["-p", wl.pid])
    attach = gp.wait_attach(wl.pid)
    # Let it work traced for a while before the window opens.
    time.sleep(0.5)
    wl.go()
    wl.wait_done()
    assert gp.stop() == 0
    assert wl.finish() == 0
    gt = wl.result()

    # Collections before the window but after attach must be there too.
    before = [c for c in gt["collections"]
              if attach["time_ns"] <= c["start_ns"] and c["end_ns"] <= gt["window_start_ns"]]
    assert len(before) > 0, "the workload did not collect between attach and the window"
    events = gp.events()
    match_callbacks(events, gt, attach["time_ns"], gt["window_end_ns"])
    check_window(events, gt)
    check_summary(gp.total(), gt["pid"], events)


def test_two_pids(procs, tmp_path):
    wls = [Workload(procs, tmp_path, "--explicit", "--heap", "20000", "--rounds", "30")
           for _ in range(2)]
    for wl in wls:
        wl.wait_ready()
    gp = Gcpause(procs, ["-p", wls[0].pid, "-p", wls[1].pid])
    for wl in wls:
        check_attach(gp.wait_attach(wl.pid), wl.pid, PYTHON)
    # Both windows run concurrently.
    for wl in wls:
        wl.go()
    for wl in wls:
        wl.wait_done()
    assert gp.stop() == 0
    events = gp.events()
    total = gp.total()
    assert sorted(p["pid"] for p in total["processes"]) == sorted(wl.pid for wl in wls)
    check_no_losses(total)
    for wl in wls:
        assert wl.finish() == 0
        gt = wl.result()
        window = check_window(events, gt)
        assert all(c > 0 for c in gen_counts(window))
        check_summary(total, wl.pid, events, exited=False)


def test_embedded_libpython(procs, tmp_path, embed_fixture):
    """Markers inside the shared libpython, not in the executable."""
    gp, gt, attach = trace_window(
        procs, tmp_path, ["--explicit", "--heap", "20000", "--rounds", "20"],
        prefix=(embed_fixture,))
    check_attach(attach, gt["pid"], LIBPYTHON, comm="embed_host", version=gt["version"])
    window = check_window(gp.events(), gt)
    assert all(c > 0 for c in gen_counts(window))
    total = gp.total()
    check_no_losses(total)
    proc = check_summary(total, gt["pid"], gp.events())
    assert proc["binary"].endswith(LIBPYTHON), proc["binary"]


@pytest.mark.parametrize("host", ["python3.11", "embed_host"])
def test_command_mode_sees_every_collection(procs, tmp_path, host, request):
    """`gcpause -- python3.11 ...`: traced from the first collection to exit.

    With embed_host the markers are in a libpython that is not even mapped
    yet when gcpause starts the command.
    """
    if host == "embed_host":
        program, binary = request.getfixturevalue("embed_fixture"), LIBPYTHON
    else:
        program, binary = PYTHON, PYTHON
    out = tmp_path / "command-mode.json"
    gp = Gcpause(procs, ["--", program, WORKLOAD, "--explicit",
                         "--heap", "20000", "--rounds", "20", "--out", out])
    # It has to end by itself once the child has exited.
    assert gp.wait(timeout=60) == 0, f"stderr: {gp.err.snapshot()}"
    with open(out) as f:
        gt = json.load(f)
    pid = gt["pid"]
    recs = gp.records()
    attach = [r for r in recs if r["type"] == "attach"]
    assert [a["pid"] for a in attach] == [pid], f"attach lines: {attach}"
    check_attach(attach[0], pid, binary, comm=host, version=gt["version"])
    exits = [r for r in recs if r["type"] == "exit"]
    assert [x["pid"] for x in exits] == [pid], f"exit lines: {exits}"
    assert exits[0]["time_ns"] >= gt["window_end_ns"]

    events = gp.events()
    assert {e["pid"] for e in events} == {pid}
    # gc.get_stats() counts every collection since interpreter start; with
    # tracing from the first one, the events up to the window's end are
    # exactly those.
    upto = [e for e in events if e["start_ns"] < gt["window_end_ns"]]
    want = [s["collections"] for s in gt["stats_after"]]
    assert gen_counts(upto) == want, (
        f"events before window end per gen {gen_counts(upto)} != "
        f"gc.get_stats() since interpreter start {want}")
    collected = [sum(e["collected"] for e in upto if e["gen"] == g) for g in range(3)]
    assert collected == [s["collected"] + s["uncollectable"] for s in gt["stats_after"]]
    # Every collection of the script's own lifetime matches its callback.
    check_window(events, gt)
    # After the window gc is disabled: only interpreter shutdown collects,
    # always gen 2 and always at least once.
    after = [e for e in events if e["start_ns"] >= gt["window_end_ns"]]
    assert after and all(e["gen"] == 2 for e in after), f"after the window: {after}"
    assert all(event_end(e) <= exits[0]["time_ns"] for e in events)
    # Shutdown collections included, every event comes before the exit line.
    last_gc = max(i for i, r in enumerate(recs) if r["type"] == "gc")
    assert recs.index(exits[0]) > last_gc, "gc events printed after the exit line"

    total = gp.total()
    check_no_losses(total)
    check_summary(total, pid, events, exited=True)
