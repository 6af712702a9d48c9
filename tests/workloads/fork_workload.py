# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""Forks children that collect, each recording its own gc.get_stats() (ground truth).

A forked child inherits its parent's gc counters, so each child snapshots them first
thing after the fork (with gc disabled across the fork, nothing can collect before the
snapshot) and again before leaving with os._exit (no shutdown collections): the
difference is exactly what the child collected itself. Like gunicorn and
multiprocessing workers, the children never exec.

Usage: fork_workload.py OUT_DIR CHILDREN ROUNDS
Writes OUT_DIR/child-PID.json per child, prints "done" when every child has exited.
"""
import gc
import json
import os
import sys


def make_cycles(n):
    for i in range(n):
        a, b = [i], [i]
        a.append(b)
        b.append(a)


def child(out_dir, rounds):
    before = gc.get_stats()
    gc.enable()
    for r in range(rounds):
        make_cycles(3000)
        if r % 5 == 4:
            gc.collect(r % 3)
    gc.disable()
    after = gc.get_stats()
    path = os.path.join(out_dir, f"child-{os.getpid()}.json")
    with open(path + ".tmp", "w") as f:
        json.dump({"pid": os.getpid(), "before": before, "after": after}, f)
    os.replace(path + ".tmp", path)
    os._exit(0)


def main():
    out_dir, children, rounds = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    pids = []
    for _ in range(children):
        gc.disable()
        pid = os.fork()
        if pid == 0:
            child(out_dir, rounds)
        gc.enable()
        pids.append(pid)
        make_cycles(2000)
    for pid in pids:
        _, status = os.waitpid(pid, 0)
        if status:
            print(f"child {pid} failed: {status}", flush=True)
            return 1
    print("done", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
