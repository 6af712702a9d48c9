# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""A GC-heavy loop: one reference cycle per iteration, so the young generation fills every few
hundred iterations and the interpreter collects thousands of times a second.

Prints "ready", waits for a line on stdin (so a tracer can attach first), runs, then prints
"<elapsed seconds> <collections>". --callbacks installs gc.callbacks timing, as an app that
measures its own pauses would.
"""

import gc
import sys
import time


class Node:
    pass


def main():
    n = int(sys.argv[1])
    if "--callbacks" in sys.argv:
        pauses = []
        starts = []

        def timing(phase, info):
            if phase == "start":
                starts.append(time.monotonic_ns())
            elif starts:
                pauses.append(time.monotonic_ns() - starts.pop())

        gc.callbacks.append(timing)
    print("ready", flush=True)
    sys.stdin.readline()
    before = sum(s["collections"] for s in gc.get_stats())
    t = time.perf_counter()
    for _ in range(n):
        a = Node()
        a.x = a
    elapsed = time.perf_counter() - t
    after = sum(s["collections"] for s in gc.get_stats())
    print(f"{elapsed:.6f} {after - before}", flush=True)


main()
