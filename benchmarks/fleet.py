# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""Fleet mode costs, measured side by side in one run (this machine is shared and noisy).

1. exec cost: a loop of /bin/true execs, timed without gcpause, with `gcpause --all`, and
   without again; every exec is a candidate gcpause looks at. Printed as a ratio.
2. discovery latency: Python processes started one after another; for each, the time from
   just before its fork to the attach record (the first of a new binary, then known ones).
3. memory: the agent's resident memory (`gcpause serve`) with 0, N and 2N idle Python
   processes traced, per traced process.

Run as root: /usr/bin/python3.11 benchmarks/fleet.py [--execs N] [--procs N]
"""

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
GCPAUSE = REPO / "build" / "gcpause"
PYTHON = "/usr/bin/python3.11"
PYENV_312 = sorted(Path("/root/.pyenv/versions").glob("3.12.*/bin/python3.12"))


class Agent:
    """gcpause with its stdout lines read in a thread."""

    def __init__(self, args):
        self.proc = subprocess.Popen([str(GCPAUSE), *args], stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, bufsize=1)
        self.lines = []
        self.err = []
        self.cond = threading.Condition()
        threading.Thread(target=self._read, args=(self.proc.stdout, self.lines),
                         daemon=True).start()
        threading.Thread(target=self._read, args=(self.proc.stderr, self.err),
                         daemon=True).start()

    def _read(self, stream, into):
        for line in stream:
            with self.cond:
                into.append(line.rstrip("\n"))
                self.cond.notify_all()

    def wait_for(self, pred, timeout=30, stream=None):
        stream = self.lines if stream is None else stream
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                for line in stream:
                    if pred(line):
                        return line
                left = deadline - time.monotonic()
                if left <= 0 or self.proc.poll() is not None:
                    raise SystemExit(f"gcpause: condition not met; stderr: {self.err[-5:]}")
                self.cond.wait(left)

    def rss_kib(self):
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0

    def stop(self):
        self.proc.terminate()
        self.proc.wait(20)


def json_record(kind, pid=None):
    def pred(line):
        try:
            r = json.loads(line)
        except ValueError:
            return False
        return r.get("type") == kind and (pid is None or r.get("pid") == pid)
    return pred


def exec_loop(n):
    t = time.perf_counter()
    for _ in range(n):
        subprocess.run(["/bin/true"], check=True)
    return time.perf_counter() - t


def bench_exec(n):
    plain1 = exec_loop(n)
    agent = Agent(["--all", "--json"])
    agent.wait_for(json_record("ready"))
    traced = exec_loop(n)
    agent.stop()
    plain2 = exec_loop(n)
    plain = (plain1 + plain2) / 2
    print(f"exec cost: {n} execs of /bin/true: {plain / n * 1e6:.0f} us each untraced "
          f"({plain1:.2f} s, {plain2:.2f} s), {traced / n * 1e6:.0f} us with --all "
          f"({traced:.2f} s): ratio {traced / plain:.2f}")


def bench_discovery(n):
    agent = Agent(["--all", "--json"])
    agent.wait_for(json_record("ready"))
    pythons = ([("pyenv 3.12 (new binary)", PYENV_312[-1])] if PYENV_312 else []) + \
        [("python3.11", PYTHON)] * n
    known = []
    for what, python in pythons:
        before = time.monotonic_ns()
        p = subprocess.Popen([str(python), "-c", "import sys; sys.stdin.read()"],
                             stdin=subprocess.PIPE)
        rec = json.loads(agent.wait_for(json_record("attach", p.pid)))
        latency_ms = (rec["time_ns"] - before) / 1e6
        p.stdin.close()
        p.wait(10)
        if what.startswith("pyenv"):
            print(f"discovery: {what}: traced {latency_ms:.1f} ms after its fork")
        else:
            known.append(latency_ms)
    agent.stop()
    known.sort()
    print(f"discovery: {len(known)} python3.11 processes (binary probed): median "
          f"{statistics.median(known):.1f} ms, p90 {known[int(len(known) * 0.9)]:.1f} ms, "
          f"max {known[-1]:.1f} ms after their fork")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def bench_memory(n):
    idle = []
    port = free_port()
    # --per-pid: a series per process, the most the exposition can hold for them.
    agent = Agent(["serve", "--per-pid", "--listen", f"127.0.0.1:{port}"])
    agent.wait_for(lambda l: "Ctrl-C to stop" in l, stream=agent.err)
    base_traced = len([l for l in agent.err if "tracing pid" in l])
    time.sleep(0.5)
    rows = [(0, agent.rss_kib())]
    for target in (n, 2 * n):
        while len(idle) < target:
            idle.append(subprocess.Popen([PYTHON, "-c", "import sys; sys.stdin.read()"],
                                         stdin=subprocess.PIPE))
        want = base_traced + target
        agent.wait_for(lambda l: len([x for x in agent.err if "tracing pid" in x]) >= want,
                       stream=agent.err)
        time.sleep(0.5)
        rows.append((target, agent.rss_kib()))
    t = time.perf_counter()
    for _ in range(10):
        body = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read()
    scrape_ms = (time.perf_counter() - t) / 10 * 1000
    series = body.count(b"gcpause_python_processes{")
    print(f"scrape: {series} series, {len(body) / 1024:.0f} KiB, {scrape_ms:.1f} ms per scrape")
    agent.stop()
    for p in idle:
        p.stdin.close()
    for p in idle:
        p.wait(10)
    for count, rss in rows:
        print(f"memory: serve tracing {count + base_traced:4d} processes: RSS {rss / 1024:.1f} MiB")
    per = (rows[-1][1] - rows[0][1]) / (2 * n)
    print(f"memory: {per:.1f} KiB per traced process")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--execs", type=int, default=2000)
    ap.add_argument("--procs", type=int, default=100)
    args = ap.parse_args()
    if os.geteuid():
        sys.exit("run as root")
    bench_exec(args.execs)
    bench_discovery(min(args.procs, 50))
    bench_memory(args.procs)


if __name__ == "__main__":
    main()
