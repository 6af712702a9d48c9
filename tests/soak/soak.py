# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""Soak of `gcpause serve --all --http --per-pid` (make soak; SOAK_TIME seconds, 600 by default).

For SOAK_TIME seconds, all on loopback and bounded in rate:
  * churn: short-lived Pythons, some forking, some exec'd through sh, about 4 a second;
  * load: a gunicorn (sync workers, tests/http/app.py) answering GET /work and /gc requests from
    two keep-alive clients at about 40 requests a second, the workers recording their own
    collections (gc.callbacks) and requests as ground truth;
  * hostile clients of the app: unknown methods, binary garbage, control characters in the
    target, requests cut short; none of them reaches the app or may be counted;
  * hostile clients of serve's port: a few slow connections dribbling header bytes, garbage,
    oversized header lines, half-open connections; /healthz must answer all the while.
Every SOAK_SAMPLE seconds it samples gcpause's RSS, open fds and BPF map entries (bpftool).

Fails (exit 1, one line per failure) when: gcpause exits or a /healthz goes unanswered; RSS,
fds or map entries grow after the warm-up beyond a fixed allowance; a worker's collections per
generation or its requests, as exported, differ from its own records; any event is dropped.
"""

import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path[:0] = [str(REPO / "tests" / "http"), str(REPO / "tests" / "e2e")]
import servers                      # noqa: E402
from prom import Scrape             # noqa: E402
from servers import Server, free_port, read_jsonl   # noqa: E402

GCPAUSE = os.environ.get("GCPAUSE_BIN") or str(REPO / "build" / "gcpause")
# The soak's Pythons run a copy of Debian's python3.11 under a name of their own, which serve's
# --comm selects: --all then discovers and filters the whole host as usual, but traces only the
# soak's processes, so other work on the machine (other gcpause tests planting hostile files)
# neither disturbs the figures nor is disturbed.
COMM = "soakpy3.11"
PYTHON = None       # the copy, set in main()
SOAK_TIME = float(os.environ.get("SOAK_TIME", "600"))
SAMPLE = float(os.environ.get("SOAK_SAMPLE", "10"))
# Growth allowed after the warm-up (the first fifth, at least 30 s): the allocator settles, the
# series of short-lived processes come and go (--expire), a scrape buffer grows once.
RSS_SLACK_KB = 8192
RSS_SLACK_RATIO = 0.10
FD_SLACK = 4
MAP_SLACK = 16
EXPIRE = 15
# Hostile clients of serve come from another loopback address than the soak's own scrapes, as
# an attacker is not the kubelet: serve limits connections per client.
HOSTILE_ADDR = "127.0.0.2"


def log(msg):
    print(f"soak: {msg}", flush=True)


class Agent:
    def __init__(self, workdir):
        self.port = free_port()
        self.err_path = Path(workdir) / "gcpause.err"
        self.proc = subprocess.Popen(
            [GCPAUSE, "serve", "--all", "--comm", COMM, "--http", "--per-pid", "--listen",
             f"127.0.0.1:{self.port}", "--expire", str(EXPIRE), "--rescan", "2"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=open(self.err_path, "w"))
        deadline = time.monotonic() + 60
        while not self.healthy():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"soak: gcpause serve did not start: {self.stderr()}")
            time.sleep(0.2)

    def get(self, path, timeout=10):
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}",
                                    timeout=timeout) as r:
            return r.read().decode()

    def healthy(self):
        try:
            self.get("/healthz", timeout=5)
            return True
        except OSError:
            return False

    def scrape(self):
        return Scrape(self.get("/metrics"))

    def where(self):
        """Where gcpause is stuck, for a failure line: its kernel wait channel and what it was
        opening or reading."""
        pid = self.proc.pid
        try:
            wchan = open(f"/proc/{pid}/wchan").read()
            files = sorted({os.readlink(f"/proc/{pid}/fd/{fd}") for fd in
                            os.listdir(f"/proc/{pid}/fd")} - {""})
            odd = [f for f in files if f.startswith("/") and not f.startswith(("/dev/", "/proc/"))]
            return f"wchan {wchan}, files open {odd[:5]}"
        except OSError as e:
            return f"state unreadable: {e}"

    def stderr(self):
        return self.err_path.read_text(errors="replace")[-2000:]

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return "did not stop on SIGTERM"


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def map_entries(pid):
    """{map name: (entries, max_entries, LRU)} for the hash maps process pid holds (arrays
    have a fixed size), found through its fds' fdinfo and counted with bpftool."""
    out = {}
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            info = {k.strip(): v.strip() for k, v in
                    (line.split(":", 1) for line in
                     open(f"/proc/{pid}/fdinfo/{fd}").read().splitlines() if ":" in line)}
        except OSError:
            continue
        # map_type: 1 hash, 5 percpu hash, 9 LRU hash, 10 LRU percpu hash
        if info.get("map_type") not in ("1", "5", "9", "10"):
            continue
        dump = subprocess.run(["bpftool", "-j", "map", "dump", "id", info["map_id"]],
                              capture_output=True, text=True)
        name = json.loads(subprocess.run(["bpftool", "-j", "map", "show", "id",
                                          info["map_id"]], capture_output=True,
                                         text=True).stdout or "{}").get("name", info["map_id"])
        if dump.returncode == 0:
            out[name] = (len(json.loads(dump.stdout or "[]")), int(info["max_entries"]),
                         info["map_type"] in ("9", "10"))
    return out


def plain_entries(maps):
    """Entries of the maps that must not grow: LRU ones fill up to their size by design."""
    return sum(n for n, _, lru in maps.values() if not lru)


def fd_kinds(pid):
    """{what an fd is (socket, anon_inode:bpf-map, a path): how many}"""
    kinds = {}
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            what = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        what = what.split(":[")[0] if what.startswith(("socket:", "pipe:")) else what
        kinds[what] = kinds.get(what, 0) + 1
    return kinds


def quiet_sample(pid):
    return fd_kinds(pid), map_entries(pid)


class Loop(threading.Thread):
    """Runs step() every period seconds until stop is set; counts its exceptions."""

    def __init__(self, stop, period, step):
        super().__init__(daemon=True)
        self.stop, self.period, self.step, self.errors = stop, period, step, 0

    def run(self):
        while not self.stop.wait(self.period):
            try:
                self.step()
            except Exception:   # noqa: BLE001 - hostile traffic fails by design
                self.errors += 1


def churn(procs):
    kind = random.randrange(3)
    if kind == 0:
        cmd = [PYTHON, "-c", "import gc; [gc.collect(g) for g in (0, 1, 2)]"]
    elif kind == 1:
        cmd = [PYTHON, "-c", "import gc, os; gc.collect(); os.fork() or gc.collect()"]
    else:
        cmd = ["sh", "-c", f"exec {PYTHON} -c 'import gc; gc.collect(); gc.collect(0)'"]
    procs.append(subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    for p in list(procs):
        if p.poll() is not None:
            procs.remove(p)


class LoadClient:
    """Keep-alive GETs; counts the answers."""

    def __init__(self, port, cid):
        self.port, self.cid, self.n, self.answered, self.sock = port, cid, 0, 0, None

    def step(self):
        try:
            self.request()
        except Exception:
            if self.sock is not None:
                self.sock.close()
            self.sock = None
            raise

    def request(self):
        if self.sock is None:
            self.sock = socket.create_connection(("127.0.0.1", self.port), timeout=10)
            self.buf = b""
        self.n += 1
        path = f"/gc/{self.cid}-{self.n}" if self.n % 50 == 0 else \
            f"/work/{self.cid}-{self.n}/item?token=soak"
        self.sock.sendall(f"GET {path} HTTP/1.1\r\nHost: soak\r\n\r\n".encode())
        while b"\r\n\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("closed")
            self.buf += chunk
        head, _, rest = self.buf.partition(b"\r\n\r\n")
        fields = dict(line.lower().split(b":", 1) for line in head.split(b"\r\n")[1:]
                      if b":" in line)
        length = int(fields.get(b"content-length", b"0"))
        while len(rest) < length:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("closed mid-body")
            rest += chunk
        self.buf = rest[length:]
        if not head.startswith(b"HTTP/1.1 200"):
            raise AssertionError(head[:60])
        self.answered += 1
        if fields.get(b"connection", b"").strip() == b"close":
            self.sock.close()       # gunicorn's sync workers answer one request a connection
            self.sock = None


HOSTILE_APP = [
    b"BREW /pot HTTP/1.1\r\nHost: x\r\n\r\n",
    b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + bytes(range(64)),
    b"GET /\x01\x1b[2J HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET /work/cut HTTP/1.1\r\nHo",            # and then the client goes away
    b"\r\n\r\n\r\n",
]


# Hostile requests with a well-formed request line that the server answered itself (405, 404,
# 400): requests like any other to gcpause (RFC 9110 allows any token as a method), never
# handled by the app, so never in its records.
HOSTILE_ANSWERED = [0]


def hostile_app(port):
    payload = random.choice(HOSTILE_APP)
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(payload)
        s.settimeout(1)
        try:
            if s.recv(4096).startswith(b"HTTP/1.") and b" HTTP/1.1\r\n" in payload:
                HOSTILE_ANSWERED[0] += 1
        except OSError:
            pass


HOSTILE_SERVE = [
    b"\x00\xff" * 100,
    b"GET /metrics HTTP/1.1\r\nX: " + b"A" * 100000 + b"\r\n\r\n",
    b"GET /" + b"%" * 5000 + b" HTTP/1.1\r\n\r\n",
    b"POST /metrics HTTP/1.1\r\nContent-Length: 5\r\n\r\nabc",
    b"GET /healthz HTTP/9.9\r\n\r\n",
    b"GET",
]


def hostile_serve(port):
    with socket.create_connection(("127.0.0.1", port), timeout=5,
                                  source_address=(HOSTILE_ADDR, 0)) as s:
        s.sendall(random.choice(HOSTILE_SERVE))
        s.settimeout(2)
        try:
            s.recv(4096)
        except OSError:
            pass


class Slowloris:
    """A few connections to serve that send one header byte each period (fewer than serve's
    connection limit: this soak is about staying up, issue 11 tests the starvation itself)."""

    def __init__(self, port, n):
        self.port, self.n, self.socks = port, n, []

    def step(self):
        while len(self.socks) < self.n:
            s = socket.create_connection(("127.0.0.1", self.port), timeout=5,
                                         source_address=(HOSTILE_ADDR, 0))
            s.sendall(b"GET /metrics HTTP/1.1\r\n")
            self.socks.append(s)
        for s in list(self.socks):
            try:
                s.sendall(b"X")
            except OSError:
                self.socks.remove(s)
                s.close()


def main():
    global PYTHON
    failures = []
    work = Path(tempfile.mkdtemp(prefix="gcpause-soak-"))
    (work / "bin").mkdir()
    PYTHON = servers.PYTHON = str(work / "bin" / COMM)
    shutil.copy2("/usr/bin/python3.11", PYTHON)
    log(f"{SOAK_TIME:.0f} s, samples every {SAMPLE:.0f} s, binary {GCPAUSE}, files in {work}")
    agent = Agent(work)
    server = Server("gunicorn-sync", work / "app", workers=2, heap=100000, cycles=2000,
                    keep=500, static_size=4096)
    server.start()
    # The workers are traced and idle: what their counters say now is the baseline.
    deadline = time.monotonic() + 60
    while True:
        s = agent.scrape()
        if all(s.find("gcpause_gc_collections_total", pid=w) for w in server.workers):
            break
        if time.monotonic() > deadline:
            raise SystemExit(f"soak: the workers {server.workers} were never traced")
        time.sleep(1)
    # ...and quiet: the same counters twice, 2 s apart (a worker collects while it settles).
    def counts(scrape):
        return [sum(x.int() for x in scrape.find("gcpause_gc_collections_total", pid=w))
                for w in server.workers]
    prev = counts(agent.scrape())
    while True:
        time.sleep(2)
        base_t0 = time.monotonic_ns()
        base = agent.scrape()
        base_t1 = time.monotonic_ns()
        if counts(base) == prev or time.monotonic() > deadline + 60:
            break
        prev = counts(base)
    fds0, maps0 = quiet_sample(agent.proc.pid)
    log(f"gcpause pid {agent.proc.pid}, gunicorn workers {server.workers}, port {server.port}; "
        f"idle: {sum(fds0.values())} fds, maps {maps0}")

    stop = threading.Event()
    procs = []
    clients = [LoadClient(server.port, c) for c in ("a", "b")]
    slow = Slowloris(agent.port, 6)
    loops = [Loop(stop, 0.25, lambda: churn(procs))]
    loops += [Loop(stop, 0.05, c.step) for c in clients]
    loops += [Loop(stop, 0.5, lambda: hostile_app(server.port)),
              Loop(stop, 0.5, lambda: hostile_serve(agent.port)),
              Loop(stop, 2.0, slow.step)]
    for t in loops:
        t.start()

    samples = []    # (elapsed s, rss kB, fds, map entries)
    start = time.monotonic()
    while time.monotonic() - start < SOAK_TIME:
        time.sleep(min(SAMPLE, max(0.0, SOAK_TIME - (time.monotonic() - start))))
        if agent.proc.poll() is not None:
            failures.append(f"gcpause exited with {agent.proc.returncode}: {agent.stderr()}")
            break
        if not agent.healthy():
            failures.append(f"/healthz unanswered at {time.monotonic() - start:.0f} s "
                            f"({agent.where()})")
        pid = agent.proc.pid
        maps = map_entries(pid)
        for name, (n, most, _) in maps.items():
            if n > most:
                failures.append(f"map {name}: {n} entries of {most}")
        samples.append((time.monotonic() - start, rss_kb(pid),
                        len(os.listdir(f"/proc/{pid}/fd")), plain_entries(maps)))
        el, rss, fds, ents = samples[-1]
        log(f"{el:6.0f} s  rss {rss / 1024:6.1f} MB  fds {fds:3d}  hash entries {ents:4d}  "
            f"requests {sum(c.n for c in clients)}  churn live {len(procs)}")
    stop.set()
    for t in loops:
        t.join(15)
    for p in procs:
        p.wait(10)
    for s in slow.socks:
        s.close()
    requests_sent = sum(c.answered for c in clients)

    # Flatness: after the warm-up, nothing grows past the allowance.
    warm = max(30.0, SOAK_TIME / 5)
    early = [s for s in samples if s[0] <= warm] or samples[:1]
    late = [s for s in samples if s[0] > warm]
    if late:
        rss0, fd0, map0 = (max(s[i] for s in early) for i in (1, 2, 3))
        rss1, fd1, map1 = (max(s[i] for s in late) for i in (1, 2, 3))
        log(f"after warm-up: rss {rss0} -> {rss1} kB, fds {fd0} -> {fd1}, "
            f"map entries {map0} -> {map1}")
        if rss1 > rss0 * (1 + RSS_SLACK_RATIO) + RSS_SLACK_KB:
            failures.append(f"RSS grew from {rss0} to {rss1} kB")
        # fds and map entries follow the live processes during churn: checked at rest below.
    else:
        failures.append("no sample after the warm-up: SOAK_TIME too short (at least 40 s)")

    # Back at rest (churn gone and forgotten after --expire, workers idle): fds and map entries
    # are those of the start again, give or take.
    time.sleep(EXPIRE + 5)
    try:
        final_t0 = time.monotonic_ns()
        final = agent.scrape()
        final_t1 = time.monotonic_ns()
    except OSError as e:
        failures.append(f"/metrics unanswered at rest: {e}")
        server.kill()
        return report(failures, requests_sent, samples, agent)
    fds1, maps1 = quiet_sample(agent.proc.pid)
    log(f"at rest again: {sum(fds1.values())} fds, maps {maps1}")
    # Each traced process holds a pidfd and each probed binary its uprobe links: --all traces
    # every Python of the host, so those follow whatever else runs here; the rest must be back
    # to its idle count, pidfds equal the processes traced, links per binary be as at idle.
    per_proc = ("anon_inode:[pidfd]",)
    per_binary = ("anon_inode:bpf_link", "anon_inode:[perf_event]")
    procs0, procs1 = (s.int("gcpause_processes_traced") for s in (base, final))
    bins0, bins1 = (s.int("gcpause_binaries_probed") for s in (base, final))
    other0, other1 = (sum(v for k, v in f.items() if k not in per_proc + per_binary)
                      for f in (fds0, fds1))
    links0, links1 = (sum(f.get(k, 0) for k in per_binary) for f in (fds0, fds1))
    log(f"traced processes {procs0} -> {procs1}, binaries {bins0} -> {bins1}, "
        f"links {links0} -> {links1}, other fds {other0} -> {other1}")
    if other1 > other0 + FD_SLACK:
        more = {k: v - fds0.get(k, 0) for k, v in fds1.items() if v > fds0.get(k, 0)}
        failures.append(f"open fds at rest went from {other0} to {other1}: {more}")
    if fds1.get(per_proc[0], 0) != procs1:
        failures.append(f"{fds1.get(per_proc[0], 0)} pidfds for {procs1} traced processes")
    if bins0 and links1 * bins0 > links0 * bins1 + FD_SLACK * bins0:
        failures.append(f"{links1} uprobe links for {bins1} binaries (idle: {links0} for {bins0})")
    traced = maps1.get("traced_pids", (0, 0, False))[0]
    if abs(traced - procs1) > 2:
        failures.append(f"traced_pids holds {traced} entries for {procs1} traced processes")
    if plain_entries(maps1) - traced > plain_entries(maps0) - maps0.get(
            "traced_pids", (0, 0, False))[0] + MAP_SLACK:
        failures.append(f"entries of the non-LRU maps at rest: {maps1} (idle: {maps0})")

    # Exactness: the workers' own records against what serve exports for their PIDs, between
    # two scrapes at rest (the workers record collections at exit, hence the stop).
    rc = server.stop()
    extra = 0
    for w in server.workers:
        if not server.exited_cleanly(w):
            failures.append(f"worker {w} did not flush its records (server exit {rc})")
            continue
        # A collection that began while a scrape was being answered may or may not be in it.
        truth = [c for c in read_jsonl(server.truth / f"gc-{w}.jsonl")
                 if base_t0 < c["start_ns"] < final_t1]
        for gen in (0, 1, 2):
            most = sum(1 for c in truth if c["gen"] == gen)
            least = sum(1 for c in truth if c["gen"] == gen and
                        base_t1 < c["start_ns"] < final_t0)
            got = final.int("gcpause_gc_collections_total", pid=w, generation=gen) - \
                base.int("gcpause_gc_collections_total", pid=w, generation=gen)
            if not least <= got <= most:
                failures.append(f"worker {w} generation {gen}: {got} collections exported, "
                                f"{least} recorded by the worker"
                                + (f" ({most} with those during the scrapes)"
                                   if most != least else ""))
        handled = sum(1 for r in read_jsonl(server.truth / f"requests-{w}.jsonl")
                      if base_t1 < r["handler_start_ns"] < final_t0)
        got = sum(s.int() for s in final.find("gcpause_http_requests_total", pid=w)) - \
            sum(s.int() for s in base.find("gcpause_http_requests_total", pid=w))
        log(f"worker {w}: {len(truth)} collections, {handled} requests")
        extra += got - handled
        if got < handled:
            failures.append(f"worker {w}: {got} requests exported, {handled} handled")
    # Every handled request exported, and beyond them only the hostile ones the server
    # answered without the app (counted by their client, over the whole run).
    if not 0 <= extra <= HOSTILE_ANSWERED[0]:
        failures.append(f"{extra} requests exported beyond those handled, "
                        f"{HOSTILE_ANSWERED[0]} hostile ones answered by the server")
    for d in final.find("gcpause_events_dropped_total"):
        if d.int():
            failures.append(f"events dropped: {d}")
    code = agent.stop()
    if code != 0:
        failures.append(f"gcpause serve exited with {code} on SIGTERM: {agent.stderr()}")
    load_errors = sum(t.errors for t in loops[1:3])
    if load_errors:
        failures.append(f"{load_errors} load requests failed")
    handled = sum(1 for w in server.workers
                  for r in read_jsonl(server.truth / f"requests-{w}.jsonl")
                  if base_t1 < r["handler_start_ns"] < final_t0)
    if handled != requests_sent:
        failures.append(f"{requests_sent} requests answered, the app handled {handled}")

    return report(failures, requests_sent, samples, agent)


def report(failures, requests_sent, samples, agent):
    if agent.proc.poll() is None:
        agent.proc.kill()
    for f in failures:
        print(f"soak: FAIL: {f}")
    print(f"soak: {SOAK_TIME:.0f} s, {requests_sent} requests, {len(samples)} samples: "
          f"{'FAILED' if failures else 'ok'}")
    print(f"{0 if failures else 1} passed, {1 if failures else 0} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
