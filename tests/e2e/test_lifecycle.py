# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""How tracing ends: targets exiting, signals, -d, and -i interval reports."""

import signal
import time

from conftest import (Gcpause, Workload, check_summary, check_window, gen_counts,
                      summary_process)


def test_targets_exit_one_by_one(procs, tmp_path):
    a = Workload(procs, tmp_path, "--explicit", "--heap", "10000", "--rounds", "15")
    b = Workload(procs, tmp_path, "--explicit", "--heap", "10000", "--rounds", "15")
    a.wait_ready()
    b.wait_ready()
    gp = Gcpause(procs, ["-p", a.pid, "-p", b.pid])
    gp.wait_attach(a.pid)
    gp.wait_attach(b.pid)

    a.go()
    a.wait_done()
    assert a.finish() == 0
    exit_a = gp.wait_exit_line(a.pid)
    assert gp.proc.poll() is None, "gcpause quit although pid %d is still traced" % b.pid

    # b is still traced after a is gone.
    b.go()
    b.wait_done()
    gt_b_window_end = b.result()["window_end_ns"]
    assert gt_b_window_end > exit_a["time_ns"]
    assert b.finish() == 0
    gp.wait_exit_line(b.pid)
    # The last target is gone: gcpause ends by itself with the total summary.
    assert gp.wait(timeout=15) == 0, f"stderr: {gp.err.snapshot()}"

    events = gp.events()
    total = gp.total()
    for wl in (a, b):
        gt = wl.result()
        window = check_window(events, gt)
        assert all(c > 0 for c in gen_counts(window))
        check_summary(total, wl.pid, events, exited=True)


def test_sigterm_detaches_cleanly(procs, tmp_path):
    wl = Workload(procs, tmp_path, "--explicit", "--heap", "10000", "--rounds", "15")
    wl.wait_ready()
    gp = Gcpause(procs, ["-p", wl.pid])
    gp.wait_attach(wl.pid)
    assert gp.stop(signal.SIGTERM) == 0, f"stderr: {gp.err.snapshot()}"
    total = gp.total()
    summary_process(total, wl.pid)
    # The target carries on collecting after the probes are gone...
    wl.go()
    wl.wait_done()
    # ...and finishes normally.
    assert wl.finish() == 0
    gt = wl.result()
    assert sum(gen_counts([c for c in gt["collections"]
                           if c["start_ns"] >= gt["window_start_ns"]])) > 0
    assert not [e for e in gp.events() if e["start_ns"] >= gt["window_start_ns"]]


def test_duration_limit(procs, tmp_path):
    wl = Workload(procs, tmp_path, "--busy-before", "0.1", "--rounds", "1")
    wl.wait_ready()
    started = time.monotonic()
    gp = Gcpause(procs, ["-d", "1", "-p", wl.pid])
    rc = gp.wait(timeout=15)
    elapsed = time.monotonic() - started
    assert rc == 0, f"stderr: {gp.err.snapshot()}"
    assert 1.0 <= elapsed <= 5.0, f"-d 1 took {elapsed:.2f} s"
    total = gp.total()
    span = total["end_ns"] - total["start_ns"]
    assert 0.9e9 <= span <= 2.0e9, f"-d 1 summary spans {span} ns"
    proc = check_summary(total, wl.pid, gp.events(), exited=False)
    # The workload was busy collecting all along.
    assert proc["all"]["count"] > 0
    wl.go()
    wl.wait_done()
    assert wl.finish() == 0


def test_interval_summaries_add_up(procs, tmp_path):
    wl = Workload(procs, tmp_path, "--explicit", "--heap", "10000", "--seconds", "2")
    wl.wait_ready()
    gp = Gcpause(procs, ["-i", "0.5", "-p", wl.pid])
    gp.wait_attach(wl.pid)
    wl.go()
    wl.wait_done()
    gt = wl.result()
    # The workload idles from here on; wait for an interval that begins after
    # its last collection so that all of them are in printed intervals.
    gp.wait_record(lambda r: r.get("type") == "summary" and r.get("scope") == "interval"
                   and r["start_ns"] >= gt["window_end_ns"], 10,
                   "an interval summary after the workload went idle")
    assert gp.stop() == 0
    assert wl.finish() == 0

    events = gp.events()
    check_window(events, gt)
    total = gp.total()
    check_summary(total, wl.pid, events)
    intervals = gp.summaries("interval")
    assert len(intervals) >= 4, f"only {len(intervals)} interval summaries in > 2 s at -i 0.5"
    for prev, cur in zip(intervals, intervals[1:]):
        assert cur["start_ns"] >= prev["end_ns"], "interval summaries overlap"
    for iv in intervals[:-1]:
        length = iv["end_ns"] - iv["start_ns"]
        assert 0.3e9 <= length <= 1.0e9, f"interval of {length} ns at -i 0.5"

    def counts(summary):
        procs_ = [p for p in summary["processes"] if p["pid"] == wl.pid]
        if not procs_:
            return [0, 0, 0], 0
        p = procs_[0]
        return [g["count"] for g in p["generations"]], p["all"]["collected"]

    sums, collected = [0, 0, 0], 0
    for iv in intervals:
        c, col = counts(iv)
        sums = [x + y for x, y in zip(sums, c)]
        collected += col
    want, want_collected = counts(total)
    assert sums == want, f"interval counts add up to {sums}, total says {want}"
    assert collected == want_collected
    assert sum(want) == len([e for e in events if e["pid"] == wl.pid])
