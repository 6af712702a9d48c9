# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""A long-running garbage maker for the `gcpause top` tests, driven over stdin.

It keeps a long-lived heap (so that full collections take a measurable time) and makes
unreachable reference cycles continuously, --cycles per round with --sleep seconds between
rounds, so generation 0 and 1 collections never stop. Every collection runs on the main thread.

stdin, one command a line:
  collect   run gc.collect() (a full, generation 2 collection) and print "collected <n>"
  exit      leave (so does EOF, unless --stay: a dying test never leaves this process behind)

--chatty makes it print on stdout and stderr now and then, as a service logs, and --stay keeps
it running at EOF: a command started by `gcpause top -- ...` that writes to, or reads from,
the terminal gcpause draws on.

With --http, a ThreadingHTTPServer also listens on 127.0.0.1 (port 0: the kernel picks one)
and answers every GET with a short body; its port is printed first as "port <n>".
Then "ready <pid>" is printed once the heap is built.
"""

import argparse
import gc
import os
import sys
import threading
import time


class Node:
    def __init__(self, payload):
        self.payload = payload
        self.peer = None


def make_garbage(cycles):
    for i in range(cycles):
        if i % 2:
            a, b = Node(i), Node([i])
            a.peer, b.peer = b, a
        else:
            d = {"n": i}
            d["self"] = d


def build_heap(size):
    heap = [[i] if i % 2 else {"k": i} for i in range(size)]
    gc.collect()
    return heap


def serve_http():
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            body = b"ok\n"
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    print(f"port {server.server_address[1]}", flush=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()


def main(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--heap", type=int, default=100_000, help="long-lived objects (default 100000)")
    p.add_argument("--cycles", type=int, default=1000, help="cycles per round (default 1000)")
    p.add_argument("--sleep", type=float, default=0.005, help="seconds between rounds")
    p.add_argument("--http", action="store_true", help="also serve HTTP on 127.0.0.1")
    p.add_argument("--chatty", type=float, default=0, metavar="SEC",
                   help='print "chatty <n>" on stdout and on stderr every SEC seconds')
    p.add_argument("--stay", action="store_true",
                   help="keep running at EOF on stdin (until killed or told \"exit\")")
    args = p.parse_args(argv)

    heap = build_heap(args.heap)
    if args.http:
        serve_http()

    # The reader thread only appends strings and sets an event; the main thread does every
    # collection and all the printing.
    commands = []
    wake = threading.Event()

    def reader():
        for line in sys.stdin:
            commands.append(line.strip())
            wake.set()
        if not args.stay:
            commands.append("exit")
            wake.set()

    threading.Thread(target=reader, daemon=True).start()
    print(f"ready {os.getpid()}", flush=True)

    chat, next_chat = 0, time.monotonic() + args.chatty
    while True:
        if args.chatty and time.monotonic() >= next_chat:
            chat += 1
            next_chat += args.chatty
            print(f"chatty {chat}", flush=True)
            print(f"chatty {chat}", file=sys.stderr, flush=True)
        while commands:
            cmd = commands.pop(0)
            if cmd == "exit":
                return 0
            if cmd == "collect":
                n = gc.collect()
                print(f"collected {n}", flush=True)
        make_garbage(args.cycles)
        if args.sleep > 0:
            wake.wait(args.sleep)
            wake.clear()
    del heap


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
