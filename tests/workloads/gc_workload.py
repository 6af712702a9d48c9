# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""Garbage-collection workload that records its own ground truth.

The end-to-end tests trace this script with gcpause and compare what gcpause
reports against what the interpreter itself says happened:

* every collection is recorded through gc.callbacks: the "start" callback runs
  just before CPython's gc__start marker and the "stop" callback just after
  gc__done, so the [start_ns, end_ns] interval recorded here always contains
  the interval gcpause measures between the two markers;
* gc.get_stats() is snapshotted at the start and the end of a measurement
  window, so the per-generation collection counts in the window are known
  exactly, including collections no callback sees.

All timestamps are time.monotonic_ns() (CLOCK_MONOTONIC), the clock gcpause
uses, so intervals can be compared directly.

Runs on CPython 3.8 and later, standalone or embedded (Py_BytesMain).
"""

# Only gc and time are imported before the callback is installed and the
# first snapshot taken: in the non --wait mode the window should cover as much
# of the script as possible, and every import allocates (and can collect).
import gc
import time

# The thread id of each collection, for matching against the tracer's tid.
# _thread is built in, so importing it this early costs nothing; getting the
# id through threading (imported later) would leave the first records without.
from _thread import get_native_id

# Recorded collections, appended by the callback. Tuples, not dicts, to keep
# the work done inside a collection's bracket small.
_records = []
# Start times of collections in progress. A list rather than a single slot so
# that the bookkeeping stays right even if an interpreter ever nests them.
_pending = []


def _gc_callback(phase, info):
    # Read the clock first on "stop" and last on "start": the closer these are
    # to the markers, the tighter the interval the tests check against.
    if phase == "start":
        _pending.append((info["generation"], time.monotonic_ns()))
        return
    now = time.monotonic_ns()
    if not _pending:
        return
    gen, start = _pending.pop()
    _records.append((gen, start, now, info["collected"], info["uncollectable"],
                     get_native_id()))


def _snapshot(reenable=True):
    """Per-generation gc.get_stats() plus the time it was taken.

    get_stats() allocates, so with gc enabled it could itself start a
    collection between reading the counters and reading the clock; with gc
    disabled nothing can slip between the two. Returns (stats, time_ns).
    """
    gc.disable()
    stats = gc.get_stats()
    now = time.monotonic_ns()
    if reenable:
        gc.enable()
    return stats, now


gc.callbacks.append(_gc_callback)
_EARLY_SNAPSHOT = _snapshot()

import argparse  # noqa: E402  (deliberately after the early snapshot)
import json  # noqa: E402
import os  # noqa: E402
import platform  # noqa: E402
import sys  # noqa: E402
import threading  # noqa: E402


class Node:
    """A plain object; pairs of them form reference cycles."""

    def __init__(self, payload):
        self.payload = payload
        self.peer = None


class Finalized:
    """A cycle member with __del__, so collections also run finalizers."""

    finalized = 0

    def __init__(self):
        self.me = self

    def __del__(self):
        Finalized.finalized += 1


class NestedCollector:
    """A cycle whose __del__ calls gc.collect(): a collection requested from
    inside a running one. CPython runs no second collection (the call returns
    0 at once; from 3.13 it does enter the collection function first), so a
    tracer must not report one. Every return value is kept to prove it."""

    returned = []

    def __init__(self):
        self.me = self

    def __del__(self):
        NestedCollector.returned.append(gc.collect())


# With --nested, one cycle in this many is a NestedCollector.
NESTED_EVERY = 200


def make_garbage(cycles, nested=False):
    """Create `cycles` unreachable reference cycles of various shapes."""
    for i in range(cycles):
        kind = i % 4
        if nested and i % NESTED_EVERY == 0:
            NestedCollector()
        elif kind == 0:
            a, b = Node(i), Node([i])
            a.peer, b.peer = b, a
        elif kind == 1:
            lst = [i, {}]
            lst[1]["back"] = lst
        elif kind == 2:
            Finalized()
        else:
            d = {"n": i}
            d["self"] = d


def build_heap(size):
    """Long-lived objects: every gen-2 collection has to traverse them all.

    A mix of containers so that a full collection has real work to do; the
    size is what makes gen-2 pauses take milliseconds rather than microseconds.
    """
    heap = []
    for i in range(size):
        if i % 3 == 0:
            heap.append([i])
        elif i % 3 == 1:
            heap.append({"k": i})
        else:
            heap.append(Node(i))
    # Move the heap to the oldest generation now, so the window does not
    # start with the promotion of a freshly built heap.
    gc.collect()
    return heap


def do_round(args, explicit_this_round):
    make_garbage(args.cycles, args.nested)
    if explicit_this_round:
        # gc.collect(n) goes through the same callback-wrapped path as an
        # automatic collection; it guarantees gen 1 and gen 2 are exercised.
        for gen in (0, 1, 2):
            gc.collect(gen)


def work(args, should_stop):
    """Run rounds until should_stop(round_index) says so."""
    n = 0
    while not should_stop(n):
        do_round(args, args.explicit and n % args.explicit_every == args.explicit_every - 1)
        n += 1
    return n


def stats_list(stats):
    return [
        {"collections": s["collections"], "collected": s["collected"],
         "uncollectable": s["uncollectable"]}
        for s in stats
    ]


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", help="write the ground-truth JSON here")
    p.add_argument("--wait", action="store_true",
                   help='print "ready", wait for "go" on stdin, run the window, '
                        'print "done", wait for "exit" or EOF')
    amount = p.add_mutually_exclusive_group()
    amount.add_argument("--seconds", type=float, help="work for this long in the window")
    amount.add_argument("--rounds", type=int, help="work this many rounds in the window")
    p.add_argument("--cycles", type=int, default=2000,
                   help="garbage cycles created per round (default 2000)")
    p.add_argument("--explicit", action="store_true",
                   help="also call gc.collect(0), (1), (2) in the window")
    p.add_argument("--explicit-every", type=int, default=10, metavar="N",
                   help="with --explicit, collect explicitly every N rounds (default 10)")
    p.add_argument("--heap", type=int, default=0, help="long-lived objects to keep (default 0)")
    p.add_argument("--busy-before", type=float, default=0.0, metavar="S",
                   help="make garbage for S seconds before the window; with --wait, "
                        "keep making it until \"go\" arrives")
    p.add_argument("--nested", action="store_true",
                   help="some garbage calls gc.collect() from __del__, inside a collection")
    p.add_argument("--hard-exit", action="store_true",
                   help="leave with os._exit(0): no interpreter shutdown, so no "
                        "shutdown collections")
    args = p.parse_args(argv)
    if args.seconds is None and args.rounds is None:
        args.rounds = 50
    if args.explicit_every < 1:
        p.error("--explicit-every must be >= 1")
    return args


def wait_for_go_while_working(args):
    """Keep making garbage until "go" arrives on stdin (and S seconds passed).

    The reading happens in a thread so the main thread keeps collecting; the
    thread only sets a flag: it allocates no gc-tracked objects, so every
    collection happens on the main thread and none can straddle the window
    boundary while the main thread takes a snapshot.
    """
    state = {"go": False, "eof": False}

    def reader():
        line = sys.stdin.readline()
        if line.strip() == "go":
            state["go"] = True
        else:
            state["eof"] = True

    t = threading.Thread(target=reader, daemon=True)
    t.start()
    deadline = time.monotonic() + args.busy_before
    work(args, lambda n: (state["go"] or state["eof"]) and time.monotonic() >= deadline)
    t.join()
    return state["go"]


def main(argv):
    args = parse_args(argv)
    heap = build_heap(args.heap)
    ready_ns = None

    if args.wait:
        # Reset every generation's allocation count, so that reading "go"
        # and taking the snapshot cannot trigger a collection by themselves.
        gc.collect()
        ready_ns = time.monotonic_ns()
        print("ready", flush=True)
        if args.busy_before > 0:
            if not wait_for_go_while_working(args):
                return 0
        else:
            line = sys.stdin.readline()
            if line.strip() != "go":
                return 0
        stats_before, window_start = _snapshot()
    else:
        if args.busy_before > 0:
            deadline = time.monotonic() + args.busy_before
            work(args, lambda n: time.monotonic() >= deadline)
        # Without --wait the window covers the whole script, from the
        # snapshot taken right after the callback was installed.
        stats_before, window_start = _EARLY_SNAPSHOT

    if args.seconds is not None:
        deadline = time.monotonic() + args.seconds
        rounds = work(args, lambda n: time.monotonic() >= deadline)
    else:
        rounds = work(args, lambda n: n >= args.rounds)
    if args.explicit:
        # At least one explicit collection per generation even for short runs.
        for gen in (0, 1, 2):
            gc.collect(gen)

    # gc stays disabled from here on: no automatic collection happens after
    # the window (writing the file allocates), so the only collections a
    # tracer sees after window_end_ns are interpreter-shutdown ones, which are
    # always gen 2 and have no callbacks.
    stats_after, window_end = _snapshot(reenable=False)

    result = {
        "pid": os.getpid(),
        "version": platform.python_version(),
        "implementation": platform.python_implementation(),
        "executable": sys.executable,
        "main_tid": get_native_id(),
        "ready_ns": ready_ns,
        "window_start_ns": window_start,
        "window_end_ns": window_end,
        "stats_before": stats_list(stats_before),
        "stats_after": stats_list(stats_after),
        "rounds": rounds,
        "heap": len(heap),
        "finalized": Finalized.finalized,
        "nested_returns": NestedCollector.returned,
        # Every collection since the callback was installed, window or not.
        "collections": [
            {"gen": g, "start_ns": s, "end_ns": e, "collected": c,
             "uncollectable": u, "tid": tid}
            for (g, s, e, c, u, tid) in _records
        ],
    }
    if args.out:
        tmp = args.out + ".tmp"
        with open(tmp, "w") as f:
            json.dump(result, f)
        # Atomic: a reader that sees the file sees all of it.
        os.replace(tmp, args.out)

    if args.wait:
        print("done", flush=True)
        # Stay alive (and idle) until told to go: the tests decide when the
        # traced process exits. EOF counts as "exit" so a dying test never
        # leaves this process behind.
        for line in sys.stdin:
            if line.strip() == "exit":
                break
    if args.hard_exit:
        sys.stdout.flush()
        os._exit(0)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
