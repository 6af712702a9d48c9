# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""Files another user controls can neither hang gcpause nor hide a Python from it.

gcpause runs as root and opens files whose names come from other users' processes: the
binaries in their memory maps, and the debug files beside those binaries. An unprivileged user
(nobody, here) plants a FIFO where gcpause would look:

* at "NAME (deleted)", after mapping NAME and deleting it: the name /proc/PID/maps shows;
* at NAME.debug beside a stripped libpython whose .gnu_debuglink names that file.

A plain open() of a FIFO blocks until a writer comes, which would stop `list`, `-p` and
`serve` (and its /healthz) for good. Every such wait here is bounded.

And a libpython deleted on disk while its process runs (a package upgrade does that) is
still that process's interpreter: it is traced, with exact counts, through
/proc/PID/map_files/.
"""

import glob
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time

import pytest

from conftest import (FIXTURES, GCPAUSE, LIBPYTHON, PYTHON, Gcpause, LineReader, Workload,
                      check_no_losses, check_window, gen_counts, popen, run_gcpause)
from prom import fetch

NOBODY = 65534
AS_NOBODY = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups"]
# A hung gcpause shows as a timeout; a working one answers in a second or two.
LIST_TIMEOUT = 60
READY_TIMEOUT = 30

# Run as nobody: maps argv[1] and, for "deleted", deletes it and puts a FIFO at the name
# maps now shows; for "debuglink", replaces argv[1].debug with a FIFO. Then idles.
MAPPER = r"""
import mmap, os, sys
path, mode = sys.argv[1], sys.argv[2]
fd = os.open(path, os.O_RDONLY)
m = mmap.mmap(fd, 0, prot=mmap.PROT_READ)
if mode == "deleted":
    os.unlink(path)
    os.mkfifo(path + " (deleted)")
elif mode == "debuglink":
    os.unlink(path + ".debug")
    os.mkfifo(path + ".debug")
print("ready", flush=True)
sys.stdin.read()
"""


def pyenv_lib(minor):
    found = sorted(glob.glob(f"/root/.pyenv/versions/{minor}.*/lib/libpython{minor}.so.1.0"))
    if not found:
        pytest.skip(f"no pyenv libpython {minor}")
    return found[-1]


@pytest.fixture
def nobody_dir():
    """A directory nobody owns (tmp_path is root's, 0700)."""
    d = tempfile.mkdtemp(prefix="gcpause-hostile-", dir="/tmp")
    os.chown(d, NOBODY, NOBODY)
    os.chmod(d, 0o755)
    yield d
    shutil.rmtree(d, ignore_errors=True)


def start_mapper(procs, path, mode):
    p = popen(procs, AS_NOBODY + [PYTHON, "-c", MAPPER, path, mode], stdin=subprocess.PIPE)
    LineReader(p.stdout, "mapper stdout").wait_for(lambda l: l == "ready", 20, '"ready"')
    return p


def deleted_fifo_attack(procs, nobody_dir):
    """nobody's python3.11 mapping a deleted 'libpython', a FIFO at its name in maps."""
    path = os.path.join(nobody_dir, "libpython3.12.so.1.0")
    subprocess.run(AS_NOBODY + ["sh", "-c", f"head -c 8192 /dev/zero > '{path}'"], check=True)
    p = start_mapper(procs, path, "deleted")
    fifo = path + " (deleted)"
    assert os.path.exists(fifo) and not os.path.isfile(fifo)
    return p


def debuglink_fifo_attack(procs, nobody_dir):
    """A stripped pyenv 3.12 libpython with a .gnu_debuglink, nobody's FIFO at its target."""
    lib = pyenv_lib("3.12")
    copy = os.path.join(nobody_dir, os.path.basename(lib))
    debug = copy + ".debug"
    subprocess.run(["strip", "--strip-all", "-o", copy, lib], check=True)
    subprocess.run(["objcopy", "--only-keep-debug", lib, debug], check=True)
    subprocess.run(["objcopy", "--add-gnu-debuglink=" + os.path.basename(debug), copy],
                   check=True, cwd=nobody_dir)
    for f in (copy, debug):
        os.chown(f, NOBODY, NOBODY)
    return start_mapper(procs, copy, "debuglink"), copy


def list_json(args):
    res = run_gcpause([GCPAUSE, "list", "--json"] + args, timeout=LIST_TIMEOUT)
    rows = {r["pid"]: r for r in map(json.loads, res.stdout.splitlines())}
    return res, rows


def test_list_past_fifo_at_deleted_name(procs, nobody_dir):
    """`list` and `list -p`: the FIFO is never opened; the mapper is listed as what it is."""
    mapper = deleted_fifo_attack(procs, nobody_dir)
    for args in ([], ["-p", str(mapper.pid)]):
        res, rows = list_json(args)
        assert res.returncode == 0, res.stderr
        row = rows.get(mapper.pid)
        # Its 'libpython' is 8 KiB of zeros, read through map_files: the interpreter is
        # python3.11 itself.
        assert row and row["binary"] == PYTHON and row["probe"] == "usdt", (args, row)


def test_list_past_fifo_debug_file(procs, nobody_dir):
    """`list -p`: a FIFO where the debuglink points is passed over; the library still listed."""
    mapper, copy = debuglink_fifo_attack(procs, nobody_dir)
    assert not os.path.isfile(copy + ".debug")
    res, rows = list_json(["-p", str(mapper.pid)])
    row = rows.get(mapper.pid)
    assert row and row["binary"] == copy, (res.stderr, rows)
    # Without the debug file, the collection function is found without symbols.
    assert row["probe"] == "stripped", row


def test_serve_past_fifo(procs, nobody_dir):
    """serve --all: up, /healthz answering, others traced, SIGTERM obeyed, FIFO in place."""
    mapper = deleted_fifo_attack(procs, nobody_dir)
    g = Gcpause(procs, ["serve", "--listen", "127.0.0.1:0", "--rescan", "1"], json_mode=False)
    line = g.err.wait_for(lambda l: "serving /metrics" in l, READY_TIMEOUT, "the serving line")
    port = int(line.rsplit("port ", 1)[1].rstrip(")"))
    g.err.wait_for(lambda l: l.endswith("; Ctrl-C to stop"), READY_TIMEOUT, "the ready line")
    g.err.wait_for(lambda l: l.startswith(f"gcpause: tracing pid {mapper.pid} "), 15,
                   "the mapper traced as the python3.11 it is")
    other = popen(procs, [PYTHON, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE)
    g.err.wait_for(lambda l: l.startswith(f"gcpause: tracing pid {other.pid} "), 15,
                   "a Python started after the attack traced")
    healthz_answers_for(port, 3)
    assert g.stop(signal.SIGTERM, timeout=15) == 0, g.err.snapshot()


def healthz_answers_for(port, seconds):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        status, _, body = fetch(f"http://127.0.0.1:{port}/healthz", timeout=5)
        assert status == 200, (status, body)
        time.sleep(0.2)


def test_serve_past_fifo_made_while_serving(procs, nobody_dir):
    """The attack made while serve runs: nobody's C program (not Python at its exec, so looked
    at again at the next rescan) maps a copy of libpython, deletes it, FIFO at its name.

    That rescan finds the deleted libpython through /proc/PID/map_files/ and traces it; the
    FIFO is never opened, /healthz keeps answering, a later Python is traced, SIGTERM obeyed.
    """
    g = Gcpause(procs, ["serve", "--listen", "127.0.0.1:0", "--rescan", "1"], json_mode=False)
    line = g.err.wait_for(lambda l: "serving /metrics" in l, READY_TIMEOUT, "the serving line")
    port = int(line.rsplit("port ", 1)[1].rstrip(")"))
    g.err.wait_for(lambda l: l.endswith("; Ctrl-C to stop"), READY_TIMEOUT, "the ready line")
    copy = os.path.join(nobody_dir, LIBPYTHON)
    subprocess.run(AS_NOBODY + ["cp", f"/usr/lib/x86_64-linux-gnu/{LIBPYTHON}", copy],
                   check=True)
    mapper = popen(procs, AS_NOBODY + [FIXTURES / "map_file", copy], stdin=subprocess.PIPE)
    LineReader(mapper.stdout, "map_file stdout").wait_for(lambda l: l == "ready", 20,
                                                           '"ready"')
    assert not os.path.isfile(copy + " (deleted)")
    healthz_answers_for(port, 3)
    traced = g.err.wait_for(lambda l: l.startswith(f"gcpause: tracing pid {mapper.pid} "), 15,
                            "the mapper traced at a rescan")
    assert f"{copy} (deleted)" in traced, traced
    other = popen(procs, [PYTHON, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE)
    g.err.wait_for(lambda l: l.startswith(f"gcpause: tracing pid {other.pid} "), 15,
                   "a Python started after the attack traced")
    healthz_answers_for(port, 1)
    assert g.stop(signal.SIGTERM, timeout=15) == 0, g.err.snapshot()


def test_deleted_libpython_traced_exactly(procs, tmp_path):
    """A libpython deleted while its process runs: traced with exact counts (map_files)."""
    lib = pyenv_lib("3.12")
    python = os.path.join(os.path.dirname(os.path.dirname(lib)), "bin", "python3.12")
    libdir = tmp_path / "lib"
    libdir.mkdir()
    copy = libdir / os.path.basename(lib)
    shutil.copy(lib, copy)
    wl = Workload(procs, tmp_path, "--explicit", "--heap", "20000", "--rounds", "20",
                  prefix=("env", f"LD_LIBRARY_PATH={libdir}", python))
    wl.wait_ready()
    os.unlink(copy)
    gp = Gcpause(procs, ["-p", wl.pid])
    attach = gp.wait_attach(wl.pid)
    assert attach["probe"] == "symbol", attach
    assert attach["binary"] == f"{copy} (deleted)", attach
    wl.go()
    wl.wait_done()
    assert gp.stop() == 0, gp.err.snapshot()
    assert wl.finish() == 0
    gt = wl.result()
    assert gt["version"].startswith("3.12"), gt["version"]
    window = check_window(gp.events(), gt)
    assert all(c > 0 for c in gen_counts(window)), gen_counts(window)
    check_no_losses(gp.total())
