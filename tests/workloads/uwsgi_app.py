# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""A WSGI app for uwsgi that records every collection of every process it runs in.

The module registers a gc.callbacks hook when it is imported: in uwsgi's master when the app
is loaded there and the workers are forked from it (the default), or in each worker with
--lazy-apps. A worker forked from the master inherits the hook and the master's
gc.get_stats(); the hook notices the new PID at its first collection and starts that
process's record from there, with the counters as they were at the fork (nothing collects
between the fork and that first callback without the callback seeing it).

When the app is loaded, GT_DIR/load-PID.json has gc.get_stats() then: every collection of that
process so far, none of them seen by a callback.

At exit (atexit, which uwsgi runs in its workers) each process writes
GT_DIR/PID.json in gc_workload.py's format: the collections with their callback windows,
gc.get_stats() at the start of the record and at its end, and that window.

Requests: GET /work makes cyclic garbage (a few collections per request); GET /collect
runs gc.collect(); every response names the worker's PID.
"""

import atexit
import gc
import json
import os
import threading
import time

GT_DIR = os.environ["GT_DIR"]
# Long-lived objects: gen-2 collections have something to traverse.
HEAP = [[i, str(i)] for i in range(30000)]

_state = {"pid": None}


def _new_record(start_ns):
    _state.update(pid=os.getpid(), stats_before=gc.get_stats(), window_start_ns=start_ns,
                  collections=[], open={})


def _callback(phase, info):
    now = time.monotonic_ns()
    if phase == "start":
        if _state["pid"] != os.getpid():
            # Nothing of this collection is counted yet: get_stats() is as at the fork.
            _new_record(now - 1)
        _state["open"][threading.get_native_id()] = now
        return
    start = _state["open"].pop(threading.get_native_id(), None)
    if start is None:
        return
    _state["collections"].append({
        "gen": info["generation"], "start_ns": start, "end_ns": now,
        "collected": info["collected"], "uncollectable": info["uncollectable"],
        "tid": threading.get_native_id()})


def _stats_list(stats):
    return [{k: s[k] for k in ("collections", "collected", "uncollectable")} for s in stats]


def _write_record():
    if _state["pid"] != os.getpid():
        # This process never collected: its record starts and ends now.
        _new_record(time.monotonic_ns())
    gc.disable()
    stats_after, end_ns = gc.get_stats(), time.monotonic_ns()
    record = {
        "pid": os.getpid(), "window_start_ns": _state["window_start_ns"],
        "window_end_ns": end_ns, "stats_before": _stats_list(_state["stats_before"]),
        "stats_after": _stats_list(stats_after), "collections": _state["collections"],
        "imported_in": IMPORTED_IN,
    }
    path = os.path.join(GT_DIR, f"{os.getpid()}.json")
    with open(path + ".tmp", "w") as f:
        json.dump(record, f)
    os.rename(path + ".tmp", path)


def _write_load_record():
    """What this process collected before the app was loaded: every collection since the
    interpreter started (or, in a lazy worker, since it too was the master)."""
    gc.disable()
    record = {"pid": os.getpid(), "time_ns": time.monotonic_ns(),
              "stats": _stats_list(gc.get_stats())}
    with open(os.path.join(GT_DIR, f"load-{os.getpid()}.json"), "w") as f:
        json.dump(record, f)
    gc.enable()


IMPORTED_IN = os.getpid()
_write_load_record()
_new_record(time.monotonic_ns())
gc.callbacks.append(_callback)
atexit.register(_write_record)


class Node:
    def __init__(self):
        self.other = None


def make_garbage(n):
    for _ in range(n):
        a, b = Node(), Node()
        a.other, b.other = b, a


def application(environ, start_response):
    path = environ.get("PATH_INFO", "/")
    if path == "/collect":
        gc.collect()
    elif path == "/work":
        make_garbage(2000)
    body = b"pid %d\n" % os.getpid()
    start_response("200 OK", [("Content-Type", "text/plain"),
                              ("Content-Length", str(len(body)))])
    return [body]
