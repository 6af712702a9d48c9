# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""A process's comm and binary path are other users' choice: they reach no terminal raw.

A real Python sets its comm with prctl(PR_SET_NAME) to a string of escapes and runs from a copy
of the interpreter whose directory and name hold escapes and a C1 control. `list`, the text
report and gcpause's stderr lines must show them escaped ("\\x1b[2J"), with no raw control
byte; JSON keeps its own escaping (the names decode back to the exact bytes).
"""

import json
import os
import shutil
import subprocess

from conftest import GCPAUSE, PYTHON, LineReader

# ESC [2J clears the screen, BEL rings, CR LF starts a fake line; 15 bytes at most.
HOSTILE_COMM = b"\x1b[2Jevil\x07\r\nX"
# A directory and a file name with an OSC title sequence, a C1 CSI (0x9b, not UTF-8) and DEL.
HOSTILE_DIR = b"bin\x1b]0;owned\x07"
HOSTILE_NAME = b"py\x9b2J\x7f\x1b[31m"

SCRIPT = f"""
import ctypes, gc, sys, time
ctypes.CDLL(None).prctl(15, {HOSTILE_COMM!r}, 0, 0, 0)
print("ready", flush=True)
while True:
    for _ in range(200):
        a = []; a.append(a)
    gc.collect()
    time.sleep(0.05)
"""


def raw_controls(data):
    """Offsets and values of bytes a terminal would act on (line feeds aside)."""
    return [(i, hex(b)) for i, b in enumerate(data)
            if (b < 0x20 and b != 0x0a) or b == 0x7f or 0x80 <= b <= 0x9f and
            not (i and data[i - 1] >= 0xc0)]


def check_clean(what, data):
    bad = raw_controls(data)
    assert not bad, f"{what}: raw control bytes {bad[:10]} in {data[:3000]!r}"


def start_hostile(procs, tmp_path):
    bindir = os.path.join(os.fsencode(tmp_path), HOSTILE_DIR)
    os.mkdir(bindir)
    binary = os.path.join(bindir, HOSTILE_NAME)
    shutil.copy2(PYTHON, binary)
    p = procs.add(subprocess.Popen([binary, "-c", SCRIPT], stdin=subprocess.DEVNULL,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    LineReader(p.stdout, "hostile python").wait_for(lambda l: l == "ready", 20, '"ready"')
    with open(f"/proc/{p.pid}/comm", "rb") as f:
        assert f.read().rstrip(b"\n") == HOSTILE_COMM, "prctl did not set the comm"
    assert os.readlink(f"/proc/{p.pid}/exe".encode()) == binary
    return p, binary


def run(args, timeout=60):
    return subprocess.run([str(GCPAUSE)] + args, stdin=subprocess.DEVNULL, capture_output=True,
                          timeout=timeout)


def test_names_reach_the_terminal_escaped(procs, tmp_path):
    p, binary = start_hostile(procs, tmp_path)
    comm_escaped = b"\\x1b[2Jevil\\x07\\x0d\\x0aX"
    name_escaped = b"py\\x9b2J\\x7f\\x1b[31m"

    res = run(["list", "-p", str(p.pid)])
    assert res.returncode == 0, res.stderr
    check_clean("list stdout", res.stdout)
    check_clean("list stderr", res.stderr)
    row = [l for l in res.stdout.splitlines() if l.split()[:1] == [str(p.pid).encode()]]
    assert len(row) == 1 and comm_escaped in row[0], res.stdout
    assert b"usdt" in row[0], row

    # A whole run: the stderr lines name the comm and the path, the report both.
    res = run(["-d", "1.5", "-p", str(p.pid)])
    assert res.returncode == 0, res.stderr
    check_clean("report stdout", res.stdout)
    check_clean("report stderr", res.stderr)
    tracing = [l for l in res.stderr.splitlines() if l.startswith(b"gcpause: tracing pid")]
    assert len(tracing) == 1 and comm_escaped in tracing[0] and name_escaped in tracing[0], \
        res.stderr
    assert b"bin\\x1b]0;owned\\x07/" + name_escaped in tracing[0], tracing
    header = [l for l in res.stdout.splitlines() if l.startswith(b"pid %d " % p.pid)]
    assert len(header) == 1 and comm_escaped in header[0] and name_escaped in header[0], \
        res.stdout
    alls = [l.split() for l in res.stdout.splitlines() if l.split()[:1] == [b"all"]]
    assert alls and int(alls[0][1]) > 0, res.stdout

    # JSON escapes by itself and is left as it was: the names decode to the exact bytes.
    res = run(["list", "--json", "-p", str(p.pid)])
    assert res.returncode == 0, res.stderr
    entry = json.loads(res.stdout.decode("utf-8", "surrogateescape"))
    assert os.fsencode(entry["comm"]) == HOSTILE_COMM, entry
    assert os.fsencode(entry["binary"]) == binary, entry


def test_messages_escape_a_bad_pid_argument(procs):
    """An error that quotes the user's own argument: escaped as well."""
    res = run(["-p", "12\x1b[2J"])
    assert res.returncode == 2, res
    check_clean("stderr", res.stderr)
    assert b"\\x1b[2J" in res.stderr, res.stderr
