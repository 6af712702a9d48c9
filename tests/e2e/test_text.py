# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""The human-readable report, checked against the workload's gc.get_stats()."""

import json
import re

from conftest import PYTHON, WORKLOAD, Gcpause, Workload, stats_deltas


def parse_report(lines, pid):
    """The per-generation table for pid: {label: (count, collected)}.

    Rows are "label count total gc% percentiles... collected"; durations may
    contain spaces, so only the first two and the last field are used.
    """
    start = next((i for i, l in enumerate(lines)
                  if re.match(rf"\s*pid {pid}\b", l)), None)
    assert start is not None, f"no report for pid {pid} in:\n" + "\n".join(lines)
    header = lines[start + 1].split()
    assert header[:2] == ["gen", "count"] and header[-1] == "collected", \
        f"unexpected table header: {lines[start + 1]!r}"
    rows = {}
    for line in lines[start + 2:]:
        f = line.split()
        if not f or f[0] not in ("0", "1", "2", "all"):
            break
        rows[f[0]] = (int(f[1]), int(f[-1]))
    assert set(rows) == {"0", "1", "2", "all"}, f"table rows: {rows}"
    return rows


def test_text_report_command_mode(procs, tmp_path):
    """`gcpause -- python3.11 ...` in text mode; exact counts from gc.get_stats()."""
    out = tmp_path / "text.json"
    # --hard-exit skips interpreter shutdown, so the stats taken at the end of
    # the script cover every collection the process ever made.
    gp = Gcpause(procs, ["--", PYTHON, WORKLOAD, "--explicit", "--heap", "20000",
                         "--rounds", "20", "--hard-exit", "--out", out], json_mode=False)
    assert gp.wait(timeout=60) == 0, f"stderr: {gp.err.snapshot()}"
    with open(out) as f:
        gt = json.load(f)
    pid = gt["pid"]
    rows = parse_report(gp.out.snapshot(), pid)
    for g in range(3):
        s = gt["stats_after"][g]
        assert rows[str(g)] == (s["collections"], s["collected"] + s["uncollectable"]), (
            f"gen {g} row (count, collected) {rows[str(g)]} != gc.get_stats() {s}")
    assert rows["all"][0] == sum(s["collections"] for s in gt["stats_after"])
    err = "\n".join(gp.err.snapshot())
    assert re.search(rf"pid {pid}\b.*exited", err), f"no exit status line: {err!r}"


def test_text_report_attached(procs, tmp_path):
    wl = Workload(procs, tmp_path, "--explicit", "--heap", "20000", "--rounds", "20")
    wl.wait_ready()
    gp = Gcpause(procs, ["-p", wl.pid], json_mode=False)
    # In text mode the status line is the only sign that tracing has begun.
    gp.err.wait_for(lambda l: "tracing" in l.lower() and re.search(rf"\b{wl.pid}\b", l), 30,
                    f"'tracing pid {wl.pid}' status line")
    wl.go()
    wl.wait_done()
    assert gp.stop() == 0, f"stderr: {gp.err.snapshot()}"
    assert wl.finish() == 0
    gt = wl.result()
    rows = parse_report(gp.out.snapshot(), wl.pid)
    # The workload idles before and after its window: the whole trace is it.
    assert [rows[str(g)][0] for g in range(3)] == stats_deltas(gt)
    assert [rows[str(g)][1] for g in range(3)] == [
        a + b for a, b in zip(stats_deltas(gt, "collected"), stats_deltas(gt, "uncollectable"))]
