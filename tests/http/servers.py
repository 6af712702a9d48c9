# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""Starts and stops the web servers of the `--http` tests, all from Debian packages.

  gunicorn-sync    /usr/bin/gunicorn, sync workers (-w 2 by default), Flask app (app:wsgi)
  gunicorn-gevent  /usr/bin/gunicorn -k gevent (-w 1 by default), the same Flask app
  uvicorn          /usr/bin/uvicorn --loop asyncio --http h11, plain ASGI app (app:asgi)
  uvicorn-uvloop   the same on uvloop (libuv: read/write/writev instead of recv/send)
  gunicorn-gthread /usr/bin/gunicorn -k gthread --threads 4 (-w 1): a thread per request
  stdlib-threaded  the stdlib's http.server (wsgiref + ThreadingMixIn, stdlib_server.py): a
                   thread per connection, HTTP/1.0 (a connection per request)
  hypercorn        /usr/bin/hypercorn --workers 1 (one process, asyncio worker, h11), the ASGI
                   app (app:asgi); Debian's 0.13 has no WSGI support
  tornado          tornado_server.py: tornado's HTTPServer and RequestHandlers over app.py's
                   handler helpers, one process on asyncio; a plain script (program label
                   "tornado_server.py")

Every server runs /usr/bin/python3.11, listens on 127.0.0.1 on a free port, in a session of its
own (so that a gunicorn master and its workers can be killed as one group), with its output in
a log file. `start()` returns once every worker has built its heap (its ground-truth `ready`
file exists) and the port is listening; no request is made to find that out, so a tracer
attached afterwards sees only the test's requests.

Usable on its own: `python3.11 tests/http/servers.py KIND` starts KIND, prints its worker PIDs,
sends a few requests and prints the ground truth (see app.py).
"""

import json
import os
import signal
import socket
import subprocess
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
PYTHON = "/usr/bin/python3.11"
GUNICORN = "/usr/bin/gunicorn"
UVICORN = "/usr/bin/uvicorn"
HYPERCORN = "/usr/bin/hypercorn"

KINDS = ("gunicorn-sync", "gunicorn-gevent", "uvicorn", "uvicorn-uvloop", "gunicorn-gthread",
         "stdlib-threaded", "hypercorn", "tornado")
DEFAULT_WORKERS = {"gunicorn-sync": 2, "gunicorn-gevent": 1, "uvicorn": 1, "uvicorn-uvloop": 1,
                   "gunicorn-gthread": 1, "stdlib-threaded": 1, "hypercorn": 1, "tornado": 1}

START_TIMEOUT = 40
STOP_TIMEOUT = 20


class ServerError(AssertionError):
    pass


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def listening(port):
    """Whether some socket listens on 127.0.0.1:port (from /proc/net/tcp, no connection made)."""
    want = f"0100007F:{port:04X}"
    with open("/proc/net/tcp") as f:
        next(f)
        for line in f:
            fields = line.split()
            if fields[1] == want and fields[3] == "0A":
                return True
    return False


def children(pid):
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(x) for x in f.read().split()]
    except OSError:
        return []


def alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def make_static(path, size):
    """A file of `size` pseudo-random bytes (incompressible, recognisable)."""
    block = os.urandom(65536)
    with open(path, "wb") as f:
        left = size
        while left > 0:
            f.write(block[:left])
            left -= len(block)
    return Path(path)


def read_jsonl(path):
    try:
        with open(path) as f:
            return [json.loads(line) for line in f if line.strip()]
    except FileNotFoundError:
        return []


class Server:
    """One running server. Use as a context manager, or call kill() in a finally."""

    def __init__(self, kind, workdir, workers=None, heap=600000, cycles=3000, keep=2000,
                 static_size=8 << 20, procs=None, extra_env=None, extra_args=()):
        if kind not in KINDS:
            raise ValueError(f"unknown server kind {kind!r}; one of {KINDS}")
        self.kind = kind
        self.nworkers = workers or DEFAULT_WORKERS[kind]
        if not kind.startswith("gunicorn") and self.nworkers != 1:
            raise ValueError(f"{kind} is run as one process (no --workers supervisor)")
        self.dir = Path(workdir)
        self.truth = self.dir / "truth"
        self.truth.mkdir(parents=True, exist_ok=True)
        self.static = make_static(self.dir / "static.bin", static_size)
        self.static_size = static_size
        self.log_path = self.dir / f"{kind}.log"
        self.env = dict(os.environ, GCPAUSE_HTTP_TRUTH=str(self.truth),
                        GCPAUSE_HTTP_HEAP=str(heap), GCPAUSE_HTTP_CYCLES=str(cycles),
                        GCPAUSE_HTTP_KEEP=str(keep), GCPAUSE_HTTP_STATIC=str(self.static),
                        PYTHONDONTWRITEBYTECODE="1", PYTHONUNBUFFERED="1")
        self.env.update(extra_env or {})
        # gunicorn only, before the app: --max-requests N, for one.
        self.extra_args = list(extra_args)
        self.proc = None
        self.port = None
        self.workers = []
        self._procs = procs

    # -- starting --------------------------------------------------------

    def command(self, port):
        if self.kind == "stdlib-threaded":
            return [PYTHON, str(HERE / "stdlib_server.py"), str(port)]
        if self.kind == "tornado":
            return [PYTHON, str(HERE / "tornado_server.py"), str(port)]
        if self.kind == "hypercorn":
            # --workers 1: the worker is the process started (no supervisor); no access log
            # unless --access-logfile is given.
            return [PYTHON, HYPERCORN, "--bind", f"127.0.0.1:{port}", "--workers", "1",
                    "--worker-class", "asyncio", "--log-level", "warning",
                    f"{HERE / 'app'}:asgi"]     # hypercorn imports it from the path's dir
        if self.kind.startswith("gunicorn"):
            worker_class = self.kind.split("-", 1)[1]
            threads = ["--threads", "4"] if worker_class == "gthread" else []
            return [PYTHON, GUNICORN, "--bind", f"127.0.0.1:{port}",
                    "--workers", str(self.nworkers), "--worker-class", worker_class] + threads + [
                    "--chdir", str(HERE), "--timeout", "120", "--graceful-timeout", "5",
                    "--log-level", "warning", "--error-logfile", "-", *self.extra_args,
                    "app:wsgi"]
        loop = "uvloop" if self.kind == "uvicorn-uvloop" else "asyncio"
        return [PYTHON, UVICORN, "--app-dir", str(HERE), "--host", "127.0.0.1",
                "--port", str(port), "--loop", loop, "--http", "h11", "--lifespan", "on",
                "--no-access-log", "--log-level", "warning", "app:asgi"]

    def start(self, timeout=START_TIMEOUT):
        for attempt in range(3):
            self.port = free_port()
            log = open(self.log_path, "a")
            try:
                self.proc = _GroupPopen(self.command(self.port), stdin=subprocess.DEVNULL,
                                        stdout=log, stderr=subprocess.STDOUT, cwd=REPO,
                                        env=self.env, start_new_session=True)
            finally:
                log.close()
            if self._procs is not None:
                self._procs.add(self.proc)
            try:
                self._wait_ready(timeout)
                return self
            except ServerError:
                self.kill()
                if "already in use" not in self.log() or attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def _ready_pids(self):
        return {int(p.name.split("-", 1)[1]) for p in self.truth.glob("ready-*")}

    def _wait_ready(self, timeout):
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise ServerError(f"{self.kind} exited with {self.proc.returncode} while "
                                  f"starting; log:\n{self.log()[-3000:]}")
            if self.kind.startswith("gunicorn"):
                cands = [c for c in children(self.proc.pid) if alive(c)]
            else:
                cands = [self.proc.pid]
            ready = self._ready_pids()
            workers = sorted(c for c in cands if c in ready)
            if len(workers) == self.nworkers and listening(self.port):
                self.workers = workers
                return
            if time.monotonic() > deadline:
                raise ServerError(f"{self.kind} not ready within {timeout} s (workers ready "
                                  f"{workers} of {cands}, listening {listening(self.port)}); "
                                  f"log:\n{self.log()[-3000:]}")
            time.sleep(0.05)

    # -- stopping --------------------------------------------------------

    def stop(self, timeout=STOP_TIMEOUT):
        """Graceful stop (SIGTERM to the master or uvicorn): workers exit normally and flush
        their ground truth. Returns the exit code; AssertionError if it took too long."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise ServerError(f"{self.kind} did not stop within {timeout} s; "
                              f"log:\n{self.log()[-3000:]}") from None
        deadline = time.monotonic() + timeout
        while any(alive(w) for w in self.workers):
            if time.monotonic() > deadline:
                self.kill()
                raise ServerError(f"{self.kind} workers {self.workers} outlived the master")
            time.sleep(0.05)
        return rc

    def kill(self):
        """SIGKILL the whole session (master and workers); safe to call any time."""
        if self.proc is not None:
            self.proc.kill()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                pass

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.kill()

    # -- results ---------------------------------------------------------

    def log(self):
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def exited_cleanly(self, pid):
        """Whether the worker ran its atexit flush (its gc records are complete)."""
        return (self.truth / f"exit-{pid}").exists()

    def exit_ns(self, pid):
        """When worker pid flushed its records at exit (None: it has not exited cleanly)."""
        try:
            return int((self.truth / f"exit-{pid}").read_text())
        except (FileNotFoundError, ValueError):
            return None

    def handled(self):
        """Every request the app handled, over all workers, as recorded in-process."""
        out = []
        for p in sorted(self.truth.glob("requests-*.jsonl")):
            out += read_jsonl(p)
        return out

    def collections(self, pid):
        """The collections of worker pid, in the format conftest.match_callbacks takes."""
        return {"pid": pid, "collections": read_jsonl(self.truth / f"gc-{pid}.jsonl")}


class _GroupPopen(subprocess.Popen):
    """A Popen leading its own session, whose kill() kills the whole process group (a gunicorn
    master's workers would otherwise outlive it). The group is ours: start_new_session."""

    def kill(self):
        try:
            os.killpg(self.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass

    def send_signal(self, sig):
        # ProcessSet.kill_all sends SIGCONT first: to the group as well.
        if sig == signal.SIGCONT:
            try:
                os.killpg(self.pid, sig)
            except (ProcessLookupError, PermissionError):
                pass
        else:
            super().send_signal(sig)


def _main():
    import argparse
    import sys
    import tempfile

    sys.path.insert(0, str(HERE))
    import client

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("kind", choices=KINDS)
    ap.add_argument("--requests", type=int, default=10)
    ap.add_argument("--heap", type=int, default=600000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d, Server(args.kind, d, heap=args.heap) as srv:
        print(f"{srv.kind}: port {srv.port}, master {srv.proc.pid}, workers {srv.workers}")
        c = client.Client("127.0.0.1", srv.port)
        res = c.keepalive([f"/work/demo{i}" for i in range(args.requests)])
        res += [c.static(pause_s=0.1)]
        for r in res:
            print(f"  {r.method} {r.path} -> {r.status} ({r.body_len} bytes) "
                  f"{(r.recv_ns - r.send_ns) / 1e6:.2f} ms, conn {r.conn}")
        print(f"stop: rc {srv.stop()}")
        for h in srv.handled():
            print("  handled", json.dumps(h))
        for pid in srv.workers:
            cols = srv.collections(pid)["collections"]
            gen2 = max([c["end_ns"] - c["start_ns"] for c in cols if c["gen"] == 2] or [0])
            print(f"  pid {pid}: {len(cols)} collections, longest gen 2 {gen2 / 1e6:.1f} ms, "
                  f"clean exit {srv.exited_cleanly(pid)}")


if __name__ == "__main__":
    _main()
