# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""Changes its own GC state in phases and prints, after each, what the gc module says.

Each phase prints one JSON line {"phase", "change_ns", "truth_ns", "threshold", "count",
"enabled", "frozen", "tracked"} and then sleeps HOLD seconds without allocating, so that a
reader outside sees the state the line describes. change_ns is when the phase's change began:
the state of the previous phase holds until then.

usage: gc_state_workload.py HEAP HOLD
"""
import gc
import json
import sys
import time

HEAP = int(sys.argv[1])
HOLD = float(sys.argv[2])
kept = []


def truth(phase, change_ns):
    tracked = [len(gc.get_objects(i)) for i in range(3)]
    t = {"phase": phase, "change_ns": change_ns, "threshold": list(gc.get_threshold()),
         "count": list(gc.get_count()), "enabled": gc.isenabled(),
         "frozen": gc.get_freeze_count(), "tracked": tracked,
         "truth_ns": time.monotonic_ns()}
    # Last: the measurement above allocated, and freed, objects of its own.
    t["count"] = list(gc.get_count())
    print(json.dumps(t), flush=True)
    time.sleep(HOLD)


def grow(n):
    kept.append([[i] for i in range(n)])


def main():
    print("ready", flush=True)
    sys.stdin.readline()
    phases = [
        ("heap", lambda: grow(HEAP)),
        ("set_threshold", lambda: gc.set_threshold(5000, 20, 30)),
        ("collect_freeze", lambda: (gc.collect(), gc.freeze())),
        ("disable", gc.disable),
        ("grow_disabled", lambda: grow(HEAP // 2)),
        ("collect_gen1", lambda: (gc.enable(), gc.collect(1))),
        ("unfreeze", gc.unfreeze),
    ]
    for name, change in phases:
        change_ns = time.monotonic_ns()
        change()
        truth(name, change_ns)
    print("done", flush=True)


main()
