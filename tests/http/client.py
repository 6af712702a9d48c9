# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""A raw-socket HTTP/1.1 client for the `--http` tests, timing each request from outside.

Every request returns a `Result` with client-side CLOCK_MONOTONIC stamps (time.monotonic_ns(),
gcpause's clock):

  connect_ns     just before connect() of the request's connection
  send_ns        just before the request's bytes were handed to sendall()
  first_recv_ns  when the first bytes of its response were received
  recv_ns        when its response's last byte was received

The lower bound of what the server's kernel can have seen of a request is `sent_lower_ns`:
connect_ns for the first request on a connection (a tracer may stamp such a request with the
connection's establishment), send_ns otherwise.

Everything is bounded: one socket timeout per operation (TIMEOUT) and a deadline per call. No
exception escapes for a server-side problem (reset, close, garbage answer): it is recorded in
`Result.error`, so a test can tell what happened to each request.
"""

import os
import socket
import threading
import time
from dataclasses import dataclass, field

TIMEOUT = 10.0          # any single socket operation
CALL_DEADLINE = 30.0    # any single client call, whatever it sends


@dataclass
class Result:
    method: str
    path: str                   # as sent, query included
    conn: int                   # serial number of the connection (per Client)
    first_on_conn: bool
    connect_ns: int
    send_ns: int = 0
    first_recv_ns: int = None
    recv_ns: int = None
    status: int = None
    headers: dict = field(default_factory=dict)
    body_len: int = 0
    body_head: bytes = b""
    error: str = None
    server_closed: bool = False  # the server closed the connection after this response
    pause_ns: int = None         # static(): when the client stopped reading
    resume_ns: int = None        # static(): when it started reading again

    @property
    def sent_lower_ns(self):
        return self.connect_ns if self.first_on_conn else self.send_ns

    @property
    def ok(self):
        return self.error is None and self.status is not None


@dataclass
class GarbageResult:
    data: bytes
    connect_ns: int
    close_ns: int
    reply: bytes                 # whatever the server answered (first 200 bytes)
    error: str = None


class ResponseError(Exception):
    pass


class _Conn:
    def __init__(self, client, rcvbuf=None):
        client.serial += 1
        self.serial = client.serial
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if rcvbuf:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(TIMEOUT)
        self.buf = b""
        self.eof = False
        self.used = False
        self.connect_ns = time.monotonic_ns()
        self.sock.connect((client.host, client.port))

    def fill(self, deadline, limit=65536):
        if self.eof:
            raise ResponseError("connection closed by the server")
        if time.monotonic() > deadline:
            raise ResponseError("call deadline passed")
        data = self.sock.recv(limit)
        if not data:
            self.eof = True
            raise ResponseError("connection closed by the server")
        self.buf += data
        return time.monotonic_ns()

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


class Client:
    def __init__(self, host, port):
        self.host, self.port = host, port
        self.serial = 0

    # -- building blocks ---------------------------------------------------

    def connect(self, rcvbuf=None):
        return _Conn(self, rcvbuf)

    def request_bytes(self, method, path, body=None, close=False, version="1.1"):
        lines = [f"{method} {path} HTTP/{version}", f"Host: {self.host}:{self.port}",
                 "User-Agent: gcpause-http-test", "Accept: */*"]
        if close:
            lines.append("Connection: close")
        if body is not None:
            lines.append(f"Content-Length: {len(body)}")
            lines.append("Content-Type: application/octet-stream")
        return ("\r\n".join(lines) + "\r\n\r\n").encode() + (body or b"")

    def _new_result(self, conn, method, path):
        r = Result(method=method, path=path, conn=conn.serial, first_on_conn=not conn.used,
                   connect_ns=conn.connect_ns)
        conn.used = True
        return r

    def read_response(self, conn, r, deadline, pause_after=None, pause_s=0.0):
        """Reads one response into r (status, headers, body length, stamps)."""
        try:
            while b"\r\n\r\n" not in conn.buf:
                t = conn.fill(deadline)
                if r.first_recv_ns is None:
                    r.first_recv_ns = t
            if r.first_recv_ns is None:     # already buffered (pipelining)
                r.first_recv_ns = time.monotonic_ns()
            head, conn.buf = conn.buf.split(b"\r\n\r\n", 1)
            lines = head.decode("latin-1").split("\r\n")
            parts = lines[0].split(" ", 2)
            if len(parts) < 2 or not parts[0].startswith("HTTP/1."):
                raise ResponseError(f"bad status line {lines[0]!r}")
            r.status = int(parts[1])
            for line in lines[1:]:
                k, _, v = line.partition(":")
                r.headers[k.strip().lower()] = v.strip()
            r.server_closed = r.headers.get("connection", "").lower() == "close"
            if r.method == "HEAD" or r.status in (204, 304) or 100 <= r.status < 200:
                body = b""
            elif "chunked" in r.headers.get("transfer-encoding", "").lower():
                body = self._read_chunked(conn, deadline)
            elif "content-length" in r.headers:
                n = int(r.headers["content-length"])
                paused = pause_after is None
                while len(conn.buf) < n:
                    if not paused and len(conn.buf) >= pause_after:
                        r.pause_ns = time.monotonic_ns()
                        time.sleep(pause_s)
                        r.resume_ns = time.monotonic_ns()
                        paused = True
                    conn.fill(deadline, limit=1 << 20)
                    r.body_len = len(conn.buf)  # progress, should it fail
                body, conn.buf = conn.buf[:n], conn.buf[n:]
            else:
                body = b""
                r.server_closed = True
                try:
                    while True:
                        conn.fill(deadline)
                except ResponseError:
                    body, conn.buf = conn.buf, b""
            r.recv_ns = time.monotonic_ns()
            r.body_len = len(body)
            r.body_head = body[:64]
        except (OSError, ResponseError, ValueError) as e:
            r.error = f"{type(e).__name__}: {e}"
            r.server_closed = True
        return r

    def _read_chunked(self, conn, deadline):
        body = b""
        while True:
            while b"\r\n" not in conn.buf:
                conn.fill(deadline)
            size_line, conn.buf = conn.buf.split(b"\r\n", 1)
            size = int(size_line.split(b";")[0], 16)
            while len(conn.buf) < size + 2:
                conn.fill(deadline)
            body += conn.buf[:size]
            conn.buf = conn.buf[size + 2:]
            if size == 0:
                return body

    def _send_one(self, conn, method, path, body=None, close=False, deadline=None,
                  version="1.1", body_gap_s=None):
        deadline = deadline or time.monotonic() + CALL_DEADLINE
        r = self._new_result(conn, method, path)
        data = self.request_bytes(method, path, body, close, version)
        r.send_ns = time.monotonic_ns()
        try:
            if body_gap_s is not None and body:
                # Headers first, the body after a pause: the server reads them separately.
                conn.sock.sendall(data[:-len(body)])
                time.sleep(body_gap_s)
                conn.sock.sendall(body)
            else:
                conn.sock.sendall(data)
        except OSError as e:
            r.error = f"send: {type(e).__name__}: {e}"
            return r
        return self.read_response(conn, r, deadline)

    # -- scenarios -----------------------------------------------------------

    def keepalive(self, paths, method="GET", body=None, body_gap_s=None):
        """Sends paths one after another on one connection, reconnecting only when the server
        closes it (gunicorn's sync workers close after every response)."""
        deadline = time.monotonic() + CALL_DEADLINE
        out = []
        conn = None
        try:
            for path in paths:
                if conn is None:
                    conn = self.connect()
                r = self._send_one(conn, method, path, body, deadline=deadline,
                                   body_gap_s=body_gap_s)
                out.append(r)
                if r.server_closed:
                    conn.close()
                    conn = None
        finally:
            if conn is not None:
                conn.close()
        return out

    def new_connections(self, paths, method="GET", body=None, version="1.1"):
        """One connection per request, each asking for Connection: close."""
        out = []
        deadline = time.monotonic() + CALL_DEADLINE
        for path in paths:
            out.append(self.one(path, method, body, deadline=deadline, version=version))
        return out

    def one(self, path, method="GET", body=None, deadline=None, version="1.1"):
        conn = self.connect()
        try:
            return self._send_one(conn, method, path, body, close=True, deadline=deadline,
                                  version=version)
        finally:
            conn.close()

    def pipelined(self, paths):
        """All requests in one sendall() on a new connection, then every response read.
        Requests left unanswered (the server closed first) have status None and an error."""
        deadline = time.monotonic() + CALL_DEADLINE
        conn = self.connect()
        try:
            results = [self._new_result(conn, "GET", p) for p in paths]
            for r in results[1:]:
                r.first_on_conn = False
            data = b"".join(self.request_bytes("GET", p, close=(i == len(paths) - 1))
                            for i, p in enumerate(paths))
            now = time.monotonic_ns()
            for r in results:
                r.send_ns = now
            conn.sock.sendall(data)
            for r in results:
                self.read_response(conn, r, deadline)
                if r.error:
                    for rest in results[results.index(r) + 1:]:
                        rest.error = "not answered: " + r.error
                    break
            return results
        finally:
            conn.close()

    def static(self, path="/static", pause_after=256 << 10, pause_s=0.2, rcvbuf=65536):
        """GET path on a connection with a small receive buffer, reading pause_after bytes of
        the body, then nothing for pause_s, then the rest: with a file larger than the socket
        buffers, the server cannot finish writing it before resume_ns."""
        conn = self.connect(rcvbuf=rcvbuf)
        try:
            r = self._new_result(conn, "GET", path)
            data = self.request_bytes("GET", path, close=True)
            r.send_ns = time.monotonic_ns()
            conn.sock.sendall(data)
            return self.read_response(conn, r, time.monotonic() + CALL_DEADLINE,
                                      pause_after=pause_after, pause_s=pause_s)
        finally:
            conn.close()

    def garbage(self, data, linger_s=0.3):
        """Sends data on a new connection, reads whatever comes back for up to linger_s (or
        until the server closes), then closes."""
        conn = self.connect()
        connect_ns = conn.connect_ns
        reply, err = b"", None
        try:
            conn.sock.sendall(data)
            conn.sock.settimeout(0.05)
            end = time.monotonic() + linger_s
            while time.monotonic() < end and len(reply) < 4096:
                try:
                    chunk = conn.sock.recv(4096)
                except socket.timeout:
                    continue
                if not chunk:
                    break
                reply += chunk
        except OSError as e:
            err = f"{type(e).__name__}: {e}"
        finally:
            conn.close()
        return GarbageResult(data=data, connect_ns=connect_ns, close_ns=time.monotonic_ns(),
                             reply=reply[:200], error=err)

    def concurrent(self, schedule):
        """schedule: [(delay_s, path)]; each request goes on its own connection from its own
        thread, delay_s after the call started. Returns the results in schedule order."""
        results = [None] * len(schedule)
        t0 = time.monotonic()
        deadline = t0 + CALL_DEADLINE

        def run(i, delay, path):
            time.sleep(max(0.0, t0 + delay - time.monotonic()))
            try:
                results[i] = self.one(path, deadline=deadline)
            except OSError as e:
                results[i] = Result("GET", path, 0, True, 0, error=f"{type(e).__name__}: {e}")

        threads = [threading.Thread(target=run, args=(i, d, p), daemon=True)
                   for i, (d, p) in enumerate(schedule)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(max(0.1, deadline + 5 - time.monotonic()))
        for i, r in enumerate(results):
            if r is None:
                results[i] = Result("GET", schedule[i][1], 0, True, 0, error="thread hung")
        return results


def random_garbage(n=512):
    """Random binary bytes that cannot start an HTTP request (first byte not a token char)."""
    data = bytearray(os.urandom(n))
    data[0] = 0x16          # what a TLS ClientHello starts with
    return bytes(data)
