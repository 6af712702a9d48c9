# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""Debian's tornado (python3-tornado) serving app.py's endpoints and ground truth.

One process, one asyncio event loop (tornado 6 runs on asyncio), HTTP/1.1 keep-alive, pipelined
requests answered in turn. The handlers are tornado RequestHandlers over app.py's Handler,
route and do_work: the same work, the same records (requests-<pid>.jsonl, gc-<pid>.jsonl,
ready-<pid>, exit-<pid>) as the Flask and ASGI apps. A plain script, unlike gunicorn or
uvicorn: its series' `program` label is this file's name.

  python3.11 tornado_server.py PORT
SIGTERM stops the server and its loop; the process then exits normally (atexit flushes the
ground truth).
"""

import asyncio
import signal
import sys

import app  # first: its gc.callbacks hook goes in before tornado allocates much

import tornado.httpserver  # noqa: E402
import tornado.web  # noqa: E402


class Work(tornado.web.RequestHandler):
    """/work/<id>[/...] (GET, POST) and /gc/<id>: the body, if any, is read before this runs."""

    def _serve(self):
        path = self.request.path
        h = app.Handler(app.route(path), self.request.method, path)
        body = app.do_work(h.kind, h)
        h.done()
        self.set_header("Content-Type", "text/plain")
        self.finish(body)

    get = post = _serve

    def compute_etag(self):
        return None


class Static(tornado.web.RequestHandler):
    def get(self):
        h = app.Handler("static", self.request.method, self.request.path)
        with open(app.STATIC, "rb") as f:
            body = f.read()
        h.done()
        self.set_header("Content-Type", "application/octet-stream")
        self.finish(body)

    def compute_etag(self):
        return None


async def serve(port):
    application = tornado.web.Application([
        (r"/work/[^/]+(?:/.*)?", Work),
        (r"/gc/[^/]+", Work),
        (r"/static", Static),
    ])
    server = tornado.httpserver.HTTPServer(application)
    server.listen(port, address="127.0.0.1")
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await stop.wait()
    server.stop()


def main():
    asyncio.run(serve(int(sys.argv[1])))


if __name__ == "__main__":
    main()
