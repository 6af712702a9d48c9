# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""make bench: what tracing costs the traced process, as ratios measured side by side.

The machine is small (2 cores) and shared, so nothing here is an absolute time: every
configuration runs in each round, in a rotated order, and the report gives medians over the
rounds, as ratios to the untraced run of the same rounds.

0. Probe hits: a C loop calling one function (benchmarks/probe_loop.c) with bpftrace's empty
   entry or return uprobe on it (gcpause's window marks are plain uprobes, as an entry is); and
   the python:gc__start/gc__done stand-in fixture firing N marker pairs, untraced, under
   bpftrace's histogram and under gcpause: µs per hit, per pair.
1. A GC-heavy loop (benchmarks/gc_loop.py on Debian's python3.11, thousands of collections a
   second): untraced; timing itself with gc.callbacks; bpftrace's per-generation histogram on
   the same two markers (the floor: two traps and a map update); gcpause on the markers;
   gcpause on the function itself (the stripped tier forced on the same binary: an entry, a
   return and the two window marks). Per collection: the cost beyond untraced, and gcpause's
   own cost beyond bpftrace's. gcpause's CPU time and peak RSS for the run.
2. A web workload: wrk against gunicorn (sync workers, a one-line WSGI app, ~0.2 ms requests) on
   loopback: requests/s and p99 untraced, with gcpause, with gcpause --http.

Writes the report to stdout and, with --docs FILE, between the markers in FILE.
Run as root: /usr/bin/python3.11 benchmarks/bench.py [--rounds N] [--docs docs/performance.md]
"""

import argparse
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
GCPAUSE = os.environ.get("GCPAUSE_BIN", str(REPO / "build" / "gcpause"))
PYTHON = "/usr/bin/python3.11"
LOOP = REPO / "benchmarks" / "gc_loop.py"
HELLO = REPO / "benchmarks" / "hello_app.py"
BPFTRACE_SCRIPT = """
usdt:%(py)s:python:gc__start /pid == %(pid)d/ { @s[tid] = nsecs; @g[tid] = arg0; }
usdt:%(py)s:python:gc__done /@s[tid]/ { @h[@g[tid]] = hist(nsecs - @s[tid]); delete(@s[tid]); }
BEGIN { printf("attached\\n"); }
"""
MARK_BEGIN = "<!-- bench:begin -->"
MARK_END = "<!-- bench:end -->"


def wait_line(stream, pred, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = stream.readline()
        if not line:
            raise RuntimeError(f"{what}: stream ended")
        if pred(line):
            return line
    raise RuntimeError(f"{what}: timed out")


def proc_cpu_rss(pid):
    """CPU seconds (user + system) and peak RSS (KiB) of a live process."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    cpu = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    hwm = 0
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                hwm = int(line.split()[1])
    # A tracer that has exited already (its only target gone) is a zombie: no memory left.
    return cpu, hwm or None


class Tracer:
    """A tracer process attached to pid, started and stopped around one run."""

    def __init__(self, kind, pid):
        self.kind = kind
        if kind == "bpftrace":
            script = BPFTRACE_SCRIPT % {"py": PYTHON, "pid": pid}
            self.proc = subprocess.Popen(["bpftrace", "-e", script], stdout=subprocess.PIPE,
                                         stderr=subprocess.DEVNULL, text=True)
            wait_line(self.proc.stdout, lambda l: l.startswith("attached"), 60, "bpftrace")
            return
        args = {"gcpause": [], "gcpause-stripped": ["--probe", "stripped"],
                "gcpause-sample": ["--sample"], "gcpause-http": ["--http"]}[kind]
        self.proc = subprocess.Popen([GCPAUSE, *args, "-p", str(pid)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                     text=True)
        wait_line(self.proc.stderr, lambda l: "tracing pid" in l, 60, kind)

    def stop(self):
        cpu, rss = proc_cpu_rss(self.proc.pid)
        self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        return cpu, rss


def gc_loop_once(kind, n):
    args = [PYTHON, str(LOOP), str(n)] + (["--callbacks"] if kind == "callbacks" else [])
    w = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    wait_line(w.stdout, lambda l: l.strip() == "ready", 30, "gc_loop")
    tracer = None if kind in ("untraced", "callbacks") else Tracer(kind, w.pid)
    w.stdin.write("go\n")
    w.stdin.flush()
    elapsed, collections = wait_line(w.stdout, lambda l: True, 300, "gc_loop result").split()
    w.wait(30)
    cpu = rss = None
    if tracer:
        cpu, rss = tracer.stop()
    return float(elapsed), int(collections), cpu, rss


GC_KINDS = ["untraced", "callbacks", "bpftrace", "gcpause", "gcpause-stripped", "gcpause-sample"]
GC_NAMES = {"untraced": "untraced", "callbacks": "in-process gc.callbacks timing",
            "bpftrace": "bpftrace histogram on the markers", "gcpause": "gcpause -p (markers)",
            "gcpause-stripped": "gcpause -p --probe stripped (function)",
            "gcpause-sample": "gcpause -p --sample (1000 Hz, no probe)"}


def bench_gc(rounds, n):
    runs = {k: [] for k in GC_KINDS}
    for r in range(rounds):
        order = GC_KINDS[r % len(GC_KINDS):] + GC_KINDS[:r % len(GC_KINDS)]
        for kind in order:
            runs[kind].append(gc_loop_once(kind, n))
        print(f"  gc loop round {r + 1}/{rounds} done", file=sys.stderr)
    base = statistics.median(x[0] for x in runs["untraced"])
    colls = statistics.median(x[1] for x in runs["untraced"])
    med = {k: statistics.median(x[0] for x in runs[k]) for k in GC_KINDS}
    per = {k: (med[k] - base) / colls * 1e6 for k in GC_KINDS}
    rows = []
    for k in GC_KINDS:
        cpu = [x[2] for x in runs[k] if x[2] is not None]
        rss = [x[3] for x in runs[k] if x[3] is not None]
        rows.append((GC_NAMES[k], med[k] / base, per[k],
                     f"{statistics.median(cpu):.2f} s" if cpu and k.startswith("gcpause") else "",
                     f"{statistics.median(rss) / 1024:.1f} MiB" if rss and k.startswith("gcpause")
                     else ""))
    return base, colls, rows, per


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wrk(port, seconds):
    out = subprocess.run(["wrk", "-t2", "-c8", f"-d{seconds}s", "--latency",
                          f"http://127.0.0.1:{port}/"], capture_output=True, text=True,
                         timeout=seconds + 60).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    m = re.search(r"99%\s+([\d.]+)(us|ms|s)", out)
    p99 = float(m.group(1)) * {"us": 1e-3, "ms": 1.0, "s": 1e3}[m.group(2)]
    return rps, p99


def bench_web(rounds, seconds):
    port = free_port()
    server = subprocess.Popen(["/usr/bin/gunicorn", "-w", "2", "-b", f"127.0.0.1:{port}",
                               "--chdir", str(HELLO.parent), "hello_app:app"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              start_new_session=True)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), 1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError("gunicorn did not start")
                time.sleep(0.2)
        time.sleep(1)
        workers = subprocess.run(["pgrep", "-P", str(server.pid)], capture_output=True,
                                 text=True).stdout.split()
        kinds = ["untraced", "gcpause", "gcpause-http"]
        runs = {k: [] for k in kinds}
        wrk(port, 2)  # warm-up
        for r in range(rounds):
            for kind in kinds[r % 3:] + kinds[:r % 3]:
                tracer = None
                if kind != "untraced":
                    args = [GCPAUSE] + (["--http"] if kind == "gcpause-http" else [])
                    for w in workers:
                        args += ["-p", w]
                    tracer = subprocess.Popen(args, stdout=subprocess.DEVNULL,
                                              stderr=subprocess.PIPE, text=True)
                    for _ in workers:
                        wait_line(tracer.stderr, lambda l: "tracing pid" in l, 60, kind)
                runs[kind].append(wrk(port, seconds))
                if tracer:
                    tracer.send_signal(signal.SIGINT)
                    tracer.wait(30)
            print(f"  web round {r + 1}/{rounds} done", file=sys.stderr)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(30)
    base_rps = statistics.median(x[0] for x in runs["untraced"])
    base_p99 = statistics.median(x[1] for x in runs["untraced"])
    names = {"untraced": "untraced", "gcpause": "gcpause -p (workers)",
             "gcpause-http": "gcpause --http -p (workers)"}
    return base_rps, [(names[k], statistics.median(x[0] for x in runs[k]) / base_rps,
                       statistics.median(x[1] for x in runs[k]) / base_p99) for k in kinds]


SDT = REPO / "build" / "tests" / "fixtures" / "sdt_markers"
PROBE_LOOP = REPO / "build" / "bench" / "probe_loop"


def timed_loop(cmd, tracer_cmd, ready_word, n):
    """Runs a loop fixture, attaching tracer_cmd (bpftrace, printing "attached") first."""
    w = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    wait_line(w.stdout, lambda l: l.startswith(ready_word), 30, cmd[0])
    tracer = None
    if tracer_cmd:
        tracer = subprocess.Popen([a.replace("PID", str(w.pid)) for a in tracer_cmd],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        stream = tracer.stdout if tracer_cmd[0] == "bpftrace" else tracer.stderr
        wait_line(stream, lambda l: "attached" in l or "tracing pid" in l, 60, tracer_cmd[0])
    return w, tracer


def stop(proc):
    if proc:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()


def probe_hit_costs(rounds, n):
    """µs per hit of each probe kind (bpftrace, empty action), and per marker pair for gcpause."""
    PROBE_LOOP.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(["cc", "-O2", "-o", str(PROBE_LOOP), str(REPO / "benchmarks" /
                    "probe_loop.c")], check=True)
    loop = str(PROBE_LOOP)
    kinds = {
        "none": None,
        "function entry (uprobe)": ["bpftrace", "-e", f"uprobe:{loop}:hit {{ }} "
                                    "BEGIN { printf(\"attached\\n\"); }"],
        "function return (uretprobe)": ["bpftrace", "-e", f"uretprobe:{loop}:hit {{ }} "
                                        "BEGIN { printf(\"attached\\n\"); }"],
    }
    times = {k: [] for k in kinds}
    for _ in range(rounds):
        for kind, tcmd in kinds.items():
            w, tracer = timed_loop([loop, str(n)], tcmd, "ready", n)
            w.stdin.write("go\n")
            w.stdin.flush()
            times[kind].append(float(w.stdout.readline()))
            w.wait(30)
            stop(tracer)
    base = statistics.median(times["none"])
    hits = {k: (statistics.median(v) - base) / n * 1e6 for k, v in times.items() if k != "none"}
    # The markers: N start/done pairs of the python:gc__* stand-in, untraced, bpftrace, gcpause.
    script = (f"usdt:{SDT}:python:gc__start /pid == PID/ {{ @s[tid] = nsecs; }} "
              f"usdt:{SDT}:python:gc__done /@s[tid]/ {{ @h = hist(nsecs - @s[tid]); "
              "delete(@s[tid]); } BEGIN { printf(\"attached\\n\"); }")
    pair_kinds = {"none": None, "bpftrace": ["bpftrace", "-e", script],
                  "gcpause": [GCPAUSE, "-p", "PID"]}
    pairs = {k: [] for k in pair_kinds}
    for _ in range(rounds):
        for kind, tcmd in pair_kinds.items():
            w, tracer = timed_loop([str(SDT)], tcmd, "ready", n)
            w.stdin.write(f"burst {n}\n")
            w.stdin.flush()
            t0, t1 = (int(x) for x in w.stdout.readline().split()[1:3])
            pairs[kind].append((t1 - t0) / 1e9)
            w.stdin.write("exit\n")
            w.stdin.flush()
            w.wait(30)
            stop(tracer)
    pbase = statistics.median(pairs["none"])
    per_pair = {k: (statistics.median(v) - pbase) / n * 1e6 for k, v in pairs.items()
                if k != "none"}
    return hits, per_pair


def agent_at_rate(total_rate, procs, seconds):
    """gcpause -p on `procs` processes making total_rate collections/s between them: its CPU
    seconds per second, peak RSS, the rate reached, and events lost."""
    import json
    ws = [subprocess.Popen([PYTHON, str(REPO / "benchmarks" / "gc_rate.py"),
                            str(total_rate / procs), str(seconds)], stdin=subprocess.PIPE,
                           stdout=subprocess.PIPE, text=True) for _ in range(procs)]
    for w in ws:
        wait_line(w.stdout, lambda l: l.strip() == "ready", 30, "gc_rate")
    args = [GCPAUSE, "--json"]
    for w in ws:
        args += ["-p", str(w.pid)]
    # To a file, never a pipe nobody reads while the run lasts: a full pipe would stall gcpause
    # and its ring buffer would overflow (that would measure the bench, not gcpause).
    out = tempfile.TemporaryFile(mode="w+")
    agent = subprocess.Popen(args, stdout=out, stderr=subprocess.DEVNULL, text=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        out.seek(0)
        if sum('"type":"attach"' in l for l in out) >= procs:
            break
        time.sleep(0.05)
    cpu0, _ = proc_cpu_rss(agent.pid)
    for w in ws:
        w.stdin.write("go\n")
        w.stdin.flush()
    made = sum(int(w.stdout.readline()) for w in ws)
    for w in ws:
        w.wait(30)
    cpu1, rss = proc_cpu_rss(agent.pid)
    agent.send_signal(signal.SIGINT)
    agent.wait(60)
    out.seek(0)
    total = [json.loads(l) for l in out if '"scope":"total"' in l][-1]
    lost = total["dropped_events"] + sum(total["lost"].values())
    return made / seconds, (cpu1 - cpu0) / seconds, rss, lost


def attach_time(n):
    """Seconds from gcpause's start to its n-th attach record, for n idle Pythons."""
    import json
    idle = [subprocess.Popen([PYTHON, "-c", "import sys; sys.stdin.read()"],
                             stdin=subprocess.PIPE) for _ in range(n)]
    try:
        time.sleep(1)
        args = [GCPAUSE, "--json"]
        for p in idle:
            args += ["-p", str(p.pid)]
        t0 = time.monotonic()
        agent = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                 text=True)
        seen = 0
        while seen < n:
            if json.loads(agent.stdout.readline())["type"] == "attach":
                seen += 1
        elapsed = time.monotonic() - t0
        agent.send_signal(signal.SIGINT)
        agent.communicate(timeout=60)
        return elapsed
    finally:
        for p in idle:
            p.kill()
            p.wait()


def report(args):
    lines = []
    hits, pairs = probe_hit_costs(max(3, args.rounds // 2), args.hits)
    lines += [f"One probe hit, by kind (bpftrace with an empty action on a C loop, "
              f"{args.hits} calls): " + "; ".join(f"{k} {v:.1f} µs" for k, v in hits.items())
              + ".", "",
              f"A gc__start/gc__done pair of USDT markers (the python:gc__* stand-in fixture, "
              f"{args.hits} pairs): bpftrace's histogram {pairs['bpftrace']:.1f} µs, gcpause "
              f"{pairs['gcpause']:.1f} µs per pair.", ""]
    base, colls, rows, per = bench_gc(args.rounds, args.iterations)
    lines += [f"GC-heavy loop: {args.iterations} iterations of Debian's python3.11, "
              f"{colls:.0f} collections, {base:.2f} s untraced; {args.rounds} rounds, "
              f"medians.", "",
              "| configuration | time ratio | µs per collection | gcpause CPU | gcpause peak RSS |",
              "|---|---|---|---|---|"]
    for name, ratio, us, cpu, rss in rows:
        lines.append(f"| {name} | {ratio:.3f} | {us:+.1f} | {cpu} | {rss} |")
    lines += ["", f"gcpause's own cost per collection beyond bpftrace's (same markers, same "
              f"traps): {per['gcpause'] - per['bpftrace']:+.1f} µs; the function tier's "
              f"beyond the markers': {per['gcpause-stripped'] - per['gcpause']:+.1f} µs.", ""]
    lines += ["gcpause itself (`-p` on several processes collecting at a set rate between them, "
              f"{args.rate_seconds} s each):", "",
              "| asked | reached | gcpause CPU (`--json`, every event written) | peak RSS | "
              "events lost |", "|---|---|---|---|---|"]
    for rate, procs in ((1000, 1), (10000, 2), (50000, 4)):
        reached, cpu, rss, lost = agent_at_rate(rate, procs, args.rate_seconds)
        lines.append(f"| {rate}/s | {reached:.0f}/s | {cpu * 100:.1f}% of a CPU | "
                     f"{rss / 1024:.1f} MiB | {lost} |")
    lines += ["", f"Attaching to 100 idle python3.11 processes (`-p` × 100): "
              f"{attach_time(100):.2f} s to the last attach record.", ""]
    if not args.no_web:
        rps, web = bench_web(max(3, args.rounds // 2), args.seconds)
        lines += [f"Web: wrk -t2 -c8 -d{args.seconds}s against gunicorn (2 sync workers, a "
                  f"one-line WSGI app), {rps:.0f} requests/s untraced; medians.", "",
                  "| configuration | requests/s ratio | p99 ratio |", "|---|---|---|"]
        for name, r, p in web:
            lines.append(f"| {name} | {r:.3f} | {p:.3f} |")
        lines.append("")
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=int(os.environ.get("BENCH_ROUNDS", 7)))
    # Long enough (about a second untraced) that a noisy VM's jitter does not swamp the cost.
    ap.add_argument("--iterations", type=int, default=12_000_000)
    ap.add_argument("--seconds", type=int, default=4)
    ap.add_argument("--no-web", action="store_true")
    ap.add_argument("--hits", type=int, default=100_000)
    ap.add_argument("--rate-seconds", type=float, default=5)
    ap.add_argument("--docs", help="file whose bench section is replaced with the report")
    args = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("bench: must run as root")
    # bpftrace 0.17 attaches uprobes through tracefs.
    if not os.path.ismount("/sys/kernel/tracing"):
        subprocess.run(["mount", "-t", "tracefs", "nodev", "/sys/kernel/tracing"], check=True)
    text = report(args)
    stamp = time.strftime("%Y-%m-%d")
    text = f"Measured {stamp} on {os.cpu_count()} CPUs, kernel {os.uname().release}.\n\n" + text
    print(text)
    if args.docs:
        doc = Path(args.docs).read_text()
        a, b = doc.index(MARK_BEGIN) + len(MARK_BEGIN), doc.index(MARK_END)
        Path(args.docs).write_text(doc[:a] + "\n" + text + "\n" + doc[b:])


if __name__ == "__main__":
    main()
