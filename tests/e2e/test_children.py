# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""`gcpause -p MASTER --children`: a running pre-fork server followed into its workers.

A gunicorn sync master with 2 workers runs before gcpause starts. With --children gcpause
traces the master, the workers it has already (found in /proc at start), and every worker it
forks later: gunicorn's --max-requests retires a worker after N requests and forks a new one.
Ground truth is the app's own, per process (tests/http/app.py): its gc.callbacks records and
the requests it handled, each with a unique id the client put in its path.
"""

import sys
import time
import uuid

from conftest import GCPAUSE, REPO, Gcpause, match_callbacks, run_gcpause
from test_http import (GcTruth, check_pair, check_request_well_formed, id_of, match_requests,
                       server_factory)  # noqa: F401 (a fixture)

sys.path.insert(0, str(REPO / "tests" / "http"))
import client as http_client  # noqa: E402
import servers  # noqa: E402

MAX_REQUESTS = 8
BATCH = 8
MAX_BATCHES = 40


def test_children_follows_existing_and_respawned_workers(procs, server_factory):
    srv = server_factory("gunicorn-sync", heap=100000,
                         extra_args=["--max-requests", str(MAX_REQUESTS)])
    master, first = srv.proc.pid, list(srv.workers)
    gp = Gcpause(procs, ["--http", "-p", master, "--children"])
    attach = {pid: gp.wait_attach(pid) for pid in [master] + first}

    # Requests until both workers that existed at the start were retired and replaced, and
    # some replacement served requests: each connection carries one request (sync workers).
    tag = uuid.uuid4().hex[:6]
    c = http_client.Client("127.0.0.1", srv.port)
    sent = []
    for b in range(MAX_BATCHES):
        sent += c.new_connections([f"/work/{tag}b{b:02d}r{i}" for i in range(BATCH)])
        served = {h["pid"] for h in srv.handled()}
        if not any(servers.alive(p) for p in first) and served - set(first):
            break
    assert not any(servers.alive(p) for p in first), \
        f"workers {first} still alive after {len(sent)} requests"
    final = sent[-1]
    assert all(r.ok for r in sent), [r for r in sent if not r.ok][:3]
    gp.wait_record(lambda r: r.get("type") == "request" and r.get("path") == final.path, 10,
                   "the last request's line")
    time.sleep(0.2)
    stop_ns = time.monotonic_ns()
    assert gp.stop() == 0, gp.err.snapshot()
    recs = gp.records()
    assert srv.stop() == 0, srv.log()[-2000:]

    handled = srv.handled()
    workers = sorted({h["pid"] for h in handled})
    respawned = [p for p in workers if p not in first]
    assert respawned, (workers, first)
    attached = {r["pid"]: r for r in recs if r["type"] == "attach"}
    assert set(workers) | {master} <= set(attached), (workers, sorted(attached))
    # The retired workers' tracing ended with them (their pidfds), each once.
    exits = [r["pid"] for r in recs if r["type"] == "exit"]
    assert sorted(exits) == sorted(set(exits)) and set(first) <= set(exits), exits

    # Collections: one to one with each worker's own callbacks. A worker there at the start
    # from its attach; a forked one from its first instruction, so from the moment its app
    # hooked gc.callbacks, which is before anything its record holds.
    events = [r for r in recs if r["type"] == "gc"]
    truth, counted = {}, 0
    for pid in workers:
        assert srv.exit_ns(pid), f"worker {pid} did not flush its ground truth"
        gt = srv.collections(pid)
        cbs = gt["collections"]
        assert cbs, f"worker {pid} recorded no collection"
        lo = attach[pid]["time_ns"] if pid in first else min(c["start_ns"] for c in cbs)
        # A retired worker's collections at finalization come after its record was written.
        counted += len(match_callbacks(events, gt, lo, min(stop_ns, srv.exit_ns(pid))))
        truth[pid] = GcTruth([e for e in events if e["pid"] == pid], cbs)
    assert counted > 2 * len(workers), f"the workers hardly collected: {counted}"

    # Requests: each one the client sent reported exactly once, by the worker that handled
    # it (the app's own record), its GC exact against that worker's collections.
    lines = [r for r in recs if r["type"] == "request"]
    for r in lines:
        check_request_well_formed(r)
    pairs, problems = match_requests(lines, sent, handled, static_paths=())
    for r, cl, h in pairs:
        if h is None or r["pid"] != h["pid"]:
            problems.append(f"{cl.path}: reported for pid {r['pid']}, handled by {h}")
            continue
        problems += check_pair(r, cl, h, truth[r["pid"]])
    by_pid = {p: sum(1 for r in lines if r["pid"] == p) for p in workers}
    assert all(by_pid[p] > 0 for p in respawned), by_pid
    assert not problems, f"{len(problems)} problems in {len(lines)} request lines:\n  " + \
        "\n  ".join(problems[:30])
    assert {id_of(r["path"]) for r in lines} == {id_of(s.path) for s in sent}


def test_children_needs_pids():
    """--children follows -p's processes: alone, or with --all or serve (whose default is
    --all), it is a usage error in one line."""
    for args in (["--children"], ["--all", "--children"], ["serve", "--children"]):
        res = run_gcpause([GCPAUSE, *args])
        assert res.returncode == 2, (args, res)
        assert res.stderr.strip().splitlines() == [
            "gcpause: --children follows the processes given with -p PID (--all and "
            "-- COMMAND follow children already)"], (args, res.stderr)
