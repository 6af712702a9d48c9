#!/bin/bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# Regenerates the fuzzers' binary seeds in tests/fuzz/corpus/ from mini_python.c and from real
# HTTP traffic on loopback (curl against python3's http.server). The outputs are checked in:
# run this only to change them.
set -euo pipefail
cd "$(dirname "$0")"
C=../corpus
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

cc -g -O1 -fPIC -shared -nostdlib -Wl,-z,max-page-size=4096 -Wl,-z,noseparate-code \
	-Wl,--build-id -o "$tmp/libpython3.13.so.1.0" mini_python.c
so=$tmp/libpython3.13.so.1.0
objcopy --only-keep-debug "$so" "$tmp/debug"
strip --strip-unneeded -o "$tmp/stripped" "$so"
objcopy --add-gnu-debuglink="$tmp/debug" "$tmp/stripped" "$tmp/stripped-debuglink"

cp "$so" $C/pyelf/mini-libpython
cp "$tmp/stripped-debuglink" $C/pyelf/mini-stripped-debuglink
cp "$so" $C/symbols/mini-libpython
cp "$tmp/stripped-debuglink" $C/symbols/mini-stripped-debuglink
cp "$so" $C/dwarf/mini-libpython
cp "$tmp/debug" $C/dwarf/mini-debug
cp "$tmp/stripped" $C/locate/mini-stripped

# .eh_frame: its load address (8 bytes, little-endian), then its contents.
addr=$(readelf -SW "$so" | awk '$2 == ".eh_frame" { print $4 }')
objcopy -O binary --only-section=.eh_frame "$so" "$tmp/eh"
python3 -c "import struct, sys; sys.stdout.buffer.write(struct.pack('<Q', int('$addr', 16)))" \
	> $C/eh_frame/mini-libpython
cat "$tmp/eh" >> $C/eh_frame/mini-libpython

# The stapsdt note descriptors, each alone.
objcopy --dump-section .note.stapsdt="$tmp/notes" "$so" "$tmp/unused"
python3 - "$tmp/notes" $C/sdt_note <<'PY'
import struct, sys
raw = open(sys.argv[1], "rb").read()
off, i = 0, 0
while off + 12 <= len(raw):
    namesz, descsz, _ = struct.unpack_from("<III", raw, off)
    desc = off + 12 + (namesz + 3) // 4 * 4
    open(f"{sys.argv[2]}/mini-note{i}", "wb").write(raw[desc:desc + descsz])
    off, i = desc + (descsz + 3) // 4 * 4, i + 1
PY

# The code of gc_collect_main for the x86 harness: a split byte, then the bytes.
python3 - "$so" $C/x86/gc_collect_main <<'PY'
import subprocess, sys
so, out = sys.argv[1], sys.argv[2]
sym = [l.split() for l in subprocess.run(["nm", "-S", so], capture_output=True, text=True,
                                          check=True).stdout.splitlines()]
addr, size = next((int(s[0], 16), int(s[1], 16)) for s in sym if s[-1] == "gc_collect_main")
data = open(so, "rb").read()
open(out, "wb").write(bytes([size - 1]) + data[addr:addr + size])   # file offset = vaddr here
PY

# Real HTTP/1.1 exchanges as the BPF side would capture them: curl's requests read by the
# server, the server's responses written back.
python3 - $C/http "$tmp" <<'PY'
import http.server, socket, struct, subprocess, sys, threading
out = sys.argv[1]
srv = socket.socket(); srv.bind(("127.0.0.1", 0)); srv.listen(4)
port = srv.getsockname()[1]
def event(kind, conn, data):
    data = data[:255]
    return struct.pack("<BBBBBB", kind, conn, 0x03, 0, 0, len(data)) + data
def serve(reply):
    c, _ = srv.accept()
    req = c.recv(4096)
    c.sendall(reply)
    c.close()
    return req
cases = [
    ("get", ["-s", f"http://127.0.0.1:{port}/users/42?token=secret"],
     b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"),
    ("post", ["-s", "-d", "a=1&b=2", f"http://127.0.0.1:{port}/api/items"],
     b"HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n"),
    ("continue", ["-s", "-H", "Expect: 100-continue", "--data-binary", "x" * 2000,
                  f"http://127.0.0.1:{port}/upload"],
     b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n"),
    ("upgrade", ["-s", "-H", "Connection: Upgrade", "-H", "Upgrade: websocket",
                 f"http://127.0.0.1:{port}/ws"],
     b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n"),
]
for name, args, reply in cases:
    box = {}
    t = threading.Thread(target=lambda: box.setdefault("req", serve(reply)))
    t.start()
    subprocess.run(["curl", "-m", "3"] + args, capture_output=True)
    t.join()
    req = box["req"]
    seq = event(0, 0, req) + event(1, 0, reply) + event(3, 0, b"")
    # the same request pipelined twice on a second connection, then its two responses
    seq += event(0, 1, req + req) + event(1, 1, reply) + event(1, 1, reply) + event(3, 1, b"")
    open(f"{out}/{name}", "wb").write(seq)
PY
chmod 644 $C/*/*
echo "seeds written"
