# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""The stdlib's threaded HTTP server (http.server, through wsgiref) running app:wsgi.

A thread per connection, HTTP/1.0 answers (the connection closes after each response): the
server where thread A's close of an fd and thread B's accept of the same fd number race.

  python3.11 stdlib_server.py PORT
SIGTERM stops it cleanly (atexit flushes the app's ground truth).
"""

import signal
import socketserver
import sys
import threading
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import app


class ThreadingWSGIServer(socketserver.ThreadingMixIn, WSGIServer):
    daemon_threads = True


class QuietHandler(WSGIRequestHandler):
    def log_message(self, *args):
        pass


def main():
    server = make_server("127.0.0.1", int(sys.argv[1]), app.wsgi,
                         server_class=ThreadingWSGIServer, handler_class=QuietHandler)

    def stop(*_):
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    server.serve_forever(poll_interval=0.1)
    server.server_close()


if __name__ == "__main__":
    main()
