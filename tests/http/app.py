# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""Web apps for the `--http` tests, recording their own ground truth.

Two apps over the same behaviour, so every server kind serves the same thing:

* `app:wsgi`, a Flask app, for gunicorn (sync and gevent workers);
* `app:asgi`, a plain ASGI callable (no framework), for uvicorn.

Endpoints:

  GET|POST /work/<id>[/anything][?query]  makes GCPAUSE_HTTP_CYCLES reference cycles (and
                                           keeps GCPAUSE_HTTP_KEEP objects a while, so some
                                           reach generation 2), answers "ok <id>\\n"
  GET /gc/<id>                             runs gc.collect() (a full, generation-2
                                           collection over the whole heap), answers "gc <id>\\n"
  GET /static                              the file GCPAUSE_HTTP_STATIC (Flask send_file:
                                           gunicorn writes it with sendfile(2))

At import each process builds a long-lived heap of GCPAUSE_HTTP_HEAP objects, so that a
generation-2 collection has tens of milliseconds of work, and installs a gc.callbacks hook.
With GCPAUSE_HTTP_GC_FIX=THRESHOLD it then freezes that heap and sets the gen-0 threshold.

Ground truth, in the directory GCPAUSE_HTTP_TRUTH (one set of files per process):

  ready-<pid>        written once the heap is built (the servers helper waits for it)
  exit-<pid>         written at exit, after the last collections were flushed: the
                     time_ns of the flush (collections after it are not recorded)
  requests-<pid>.jsonl  one line per handled request: {"id","kind","method","path","pid",
                     "tid","greenlet","handler_start_ns","handler_end_ns","gc_ns","gc_count",
                     "gc_count_by_gen"}; the handler interval ends before the response is
                     handed to the server, so it lies inside [start_ns, first_byte_ns] of the
                     request as the kernel sees it. gc_* are the collections (callback
                     intervals) that ran inside the handler interval, whichever thread or
                     greenlet triggered them: a collection stops the whole process.
  gc-<pid>.jsonl     one line per collection: {"gen","start_ns","end_ns","tid","collected",
                     "uncollectable"}, from the "start" and "stop" callbacks, which CPython runs
                     just outside the gc__start/gc__done markers: each interval contains exactly
                     one collection as gcpause times it. Written at the end of each request and
                     at exit (gunicorn and uvicorn exit normally on SIGTERM, running atexit).

All times are time.monotonic_ns(), gcpause's clock (CLOCK_MONOTONIC).
"""

# As in tests/workloads/gc_workload.py, the hook goes in before anything else allocates much.
import gc
import time
from _thread import get_native_id

_collections = []   # (gen, start_ns, end_ns, tid, collected, uncollectable); swapped out to flush
_pending = []       # (gen, start_ns) of collections in progress
# Cumulative callback time and count since import: a handler reads them at its start and end,
# which is exact since no collection can straddle a Python-level clock read of this process.
_totals = [0, 0, 0, 0, 0]   # total_ns, count, count gen 0, gen 1, gen 2


def _gc_callback(phase, info):
    if phase == "start":
        _pending.append((info["generation"], time.monotonic_ns()))
        return
    now = time.monotonic_ns()
    if not _pending:
        return
    gen, start = _pending.pop()
    _collections.append((gen, start, now, get_native_id(), info["collected"],
                         info["uncollectable"]))
    _totals[0] += now - start
    _totals[1] += 1
    if 0 <= gen <= 2:
        _totals[2 + gen] += 1


gc.callbacks.append(_gc_callback)

import atexit  # noqa: E402
import collections  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402
import threading  # noqa: E402

TRUTH = os.environ.get("GCPAUSE_HTTP_TRUTH")
HEAP = int(os.environ.get("GCPAUSE_HTTP_HEAP", "600000"))
CYCLES = int(os.environ.get("GCPAUSE_HTTP_CYCLES", "3000"))
KEEP = int(os.environ.get("GCPAUSE_HTTP_KEEP", "2000"))
STATIC = os.environ.get("GCPAUSE_HTTP_STATIC")
if not TRUTH:
    sys.exit("app.py: GCPAUSE_HTTP_TRUTH (ground-truth directory) is not set")

PID = os.getpid()
# Real threads even under gevent's monkey-patching: the writes from greenlets and from
# atexit must not interleave. A greenlet never switches while holding it (no I/O to a socket).
if "gevent.monkey" in sys.modules:
    _write_lock = sys.modules["gevent.monkey"].get_original("_thread", "allocate_lock")()
else:
    _write_lock = threading.Lock()


def _greenlet_id():
    g = sys.modules.get("greenlet")
    if g is None:
        return None
    try:
        return id(g.getcurrent())
    except Exception:
        return None


def _append(name, lines):
    if lines:
        with open(os.path.join(TRUTH, f"{name}-{PID}.jsonl"), "a") as f:
            f.write("".join(json.dumps(x, separators=(",", ":")) + "\n" for x in lines))


def flush_collections():
    global _collections
    with _write_lock:
        done, _collections = _collections, []
        _append("gc", [{"gen": c[0], "start_ns": c[1], "end_ns": c[2], "tid": c[3],
                        "collected": c[4], "uncollectable": c[5]} for c in done])


def _at_exit():
    # Collections after this (the interpreter's own at finalization) are in no record: the
    # time tells a tracer's events of them from the recorded ones.
    now = time.monotonic_ns()
    flush_collections()
    with open(os.path.join(TRUTH, f"exit-{PID}"), "w") as f:
        f.write(f"{now}\n")


atexit.register(_at_exit)


# --------------------------------------------------------------------------
# The heap and the garbage
# --------------------------------------------------------------------------

class Node:
    def __init__(self, payload):
        self.payload = payload
        self.peer = None


def build_heap(size):
    heap = []
    for i in range(size):
        if i % 3 == 0:
            heap.append([i])
        elif i % 3 == 1:
            heap.append({"k": i})
        else:
            heap.append(Node(i))
    return heap


HEAP_OBJECTS = build_heap(HEAP)
# Objects that live for a few tens of requests: they survive into generation 2 and then die
# there, which is what makes CPython schedule generation-2 collections on its own.
_medium = collections.deque(maxlen=max(1, 20 * KEEP))


def make_garbage(cycles, keep):
    for i in range(cycles):
        if i % 2:
            a, b = Node(i), Node(None)
            a.peer, b.peer = b, a
        else:
            d = {"n": i}
            d["self"] = d
    _medium.extend([i] for i in range(keep))


# --------------------------------------------------------------------------
# Per-request ground truth
# --------------------------------------------------------------------------

class Handler:
    """Brackets the app's own work on one request."""

    def __init__(self, kind, method, path):
        self.kind, self.method, self.path = kind, method, path
        parts = path.split("/")
        self.id = parts[2] if len(parts) > 2 and parts[1] in ("work", "gc") else None
        self.tid = get_native_id()
        self.greenlet = _greenlet_id()
        self.totals = list(_totals)
        self.start_ns = time.monotonic_ns()

    def done(self):
        """Call just before the response goes to the server."""
        end = time.monotonic_ns()
        t = list(_totals)
        rec = {"id": self.id, "kind": self.kind, "method": self.method, "path": self.path,
               "pid": PID, "tid": self.tid, "greenlet": self.greenlet,
               "handler_start_ns": self.start_ns, "handler_end_ns": end,
               "gc_ns": t[0] - self.totals[0], "gc_count": t[1] - self.totals[1],
               "gc_count_by_gen": [t[2 + g] - self.totals[2 + g] for g in range(3)]}
        with _write_lock:
            _append("requests", [rec])
        flush_collections()


def route(path):
    """(kind, id) for a request path, kind None for a 404."""
    parts = path.split("/")
    if len(parts) >= 3 and parts[1] == "work" and parts[2]:
        return "work"
    if len(parts) == 3 and parts[1] == "gc" and parts[2]:
        return "gc"
    if path == "/static":
        return "static"
    return None


def do_work(kind, h):
    if kind == "work":
        make_garbage(CYCLES, KEEP)
        return f"ok {h.id}\n".encode()
    if kind == "gc":
        gc.collect()
        return f"gc {h.id}\n".encode()
    return None


# --------------------------------------------------------------------------
# WSGI (Flask), created on first access so that uvicorn never imports Flask
# --------------------------------------------------------------------------

def _make_flask():
    from flask import Flask, Response, request, send_file

    flask_app = Flask("gcpause_http_test")

    @flask_app.route("/work/<wid>", methods=["GET", "POST"])
    @flask_app.route("/work/<wid>/<path:rest>", methods=["GET", "POST"])
    @flask_app.route("/gc/<wid>")
    def work(wid, rest=None):
        h = Handler(route(request.path), request.method, request.path)
        if request.method == "POST":
            request.get_data()
        body = do_work(h.kind, h)
        h.done()
        return Response(body, mimetype="text/plain")

    @flask_app.route("/static")
    def static_file():
        h = Handler("static", request.method, request.path)
        # conditional=False: no Range/ETag handling, always the whole file with a length.
        resp = send_file(STATIC, mimetype="application/octet-stream", conditional=False,
                         etag=False, max_age=0)
        h.done()
        return resp

    return flask_app


def __getattr__(name):
    if name == "wsgi":
        globals()["wsgi"] = _make_flask()
        return globals()["wsgi"]
    raise AttributeError(name)


# --------------------------------------------------------------------------
# ASGI
# --------------------------------------------------------------------------

async def asgi(scope, receive, send):
    if scope["type"] == "lifespan":
        while True:
            msg = await receive()
            if msg["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif msg["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    if scope["type"] != "http":
        return
    path = scope["path"]
    kind = route(path)
    h = Handler(kind, scope["method"], path)
    more = True
    while more:     # the body, if any, before answering
        msg = await receive()
        more = msg.get("more_body", False) and msg["type"] == "http.request"
    if kind == "static":
        with open(STATIC, "rb") as f:
            body = f.read()
        ctype = b"application/octet-stream"
    else:
        body = do_work(kind, h)
        ctype = b"text/plain"
    status = 200
    if body is None:
        status, body = 404, b"not found\n"
    h.done()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", ctype),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


# The fix of the seed's blog post, once the heap is built: GCPAUSE_HTTP_GC_FIX=THRESHOLD runs
# gc.collect(2); gc.freeze(); gc.set_threshold(THRESHOLD) (docs/cause.md).
if os.environ.get("GCPAUSE_HTTP_GC_FIX"):
    gc.collect(2)
    gc.freeze()
    gc.set_threshold(int(os.environ["GCPAUSE_HTTP_GC_FIX"]))

with open(os.path.join(TRUTH, f"ready-{PID}"), "w") as _f:
    _f.write(f"{len(HEAP_OBJECTS)}\n")
