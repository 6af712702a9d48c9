# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""Collections at a set rate: gc.collect(0) RATE times a second for SECONDS (as near as the
machine allows). Prints "ready", waits for a line on stdin, runs, prints the collections made."""

import gc
import sys
import time

rate, seconds = float(sys.argv[1]), float(sys.argv[2])
print("ready", flush=True)
sys.stdin.readline()
start = time.monotonic()
done = 0
while True:
    now = time.monotonic()
    if now - start >= seconds:
        break
    due = int((now - start) * rate)
    while done < due:
        gc.collect(0)
        done += 1
    time.sleep(0.0005)
print(done, flush=True)
