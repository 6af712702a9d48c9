# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""A slowloris attacker for the metrics server's tests: bounded, loopback only.

    slowloris.py HOST PORT DURATION_S INTERVAL_S SRC:COUNT [SRC:COUNT ...]

Holds COUNT connections from each local source address SRC. Each sends a request line and
then one more header line every INTERVAL_S, never ending its header; a connection the server
closes is opened again after RECONNECT_S. Prints one JSON line at the end: connections opened,
header lines sent, connections the server closed.
"""

import errno
import json
import socket
import sys
import time

RECONNECT_S = 0.5
TICK_S = 0.1


class Loris:
    def __init__(self, src, dst):
        self.src, self.dst = src, dst
        self.sock = None
        self.next_open = 0.0
        self.next_send = 0.0
        self.lines = 0

    def open(self, now, stats):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setblocking(False)
        s.bind((self.src, 0))
        err = s.connect_ex(self.dst)
        if err not in (0, errno.EINPROGRESS):
            s.close()
            self.next_open = now + RECONNECT_S
            return
        self.sock, self.lines, self.next_send = s, 0, now
        stats["opened"] += 1

    def drop(self, now, stats):
        self.sock.close()
        self.sock = None
        self.next_open = now + RECONNECT_S
        stats["closed_by_server"] += 1

    def tick(self, now, interval, stats):
        if self.sock is None:
            if now >= self.next_open:
                self.open(now, stats)
            return
        try:
            self.sock.recv(65536)
            # An answer (408, 400) or the end of the stream: either way this one is over.
            self.drop(now, stats)
            return
        except BlockingIOError:
            pass
        except OSError:
            self.drop(now, stats)
            return
        if now < self.next_send:
            return
        line = (b"GET /metrics HTTP/1.1\r\nHost: x\r\n" if not self.lines
                else b"X-Pad-%d: y\r\n" % self.lines)
        try:
            self.sock.send(line)
        except BlockingIOError:
            return
        except OSError as e:
            if e.errno in (errno.ENOTCONN, errno.EAGAIN):
                return      # still connecting
            self.drop(now, stats)
            return
        self.lines += 1
        stats["lines"] += 1
        self.next_send = now + interval


def main():
    host, port, duration, interval = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), \
        float(sys.argv[4])
    assert host.startswith("127."), "loopback only"
    lorises = []
    for spec in sys.argv[5:]:
        src, count = spec.split(":")
        assert src.startswith("127.")
        lorises += [Loris(src, (host, port)) for _ in range(int(count))]
    stats = {"opened": 0, "lines": 0, "closed_by_server": 0}
    end = time.monotonic() + duration
    print("started", flush=True)
    while time.monotonic() < end:
        now = time.monotonic()
        for lo in lorises:
            lo.tick(now, interval, stats)
        time.sleep(TICK_S)
    stats["open_at_end"] = sum(lo.sock is not None for lo in lorises)
    print(json.dumps(stats), flush=True)


if __name__ == "__main__":
    main()
