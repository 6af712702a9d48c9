# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""`gcpause top`, the live terminal view, driven in a real terminal: a detached tmux session.

tmux gives gcpause a pseudo-terminal of a chosen size, sends it keys (`send-keys`), resizes it
(`resize-window`, which delivers SIGWINCH) and shows what is on the screen (`capture-pane -p`,
plain text; the selected row is marked by a `>` in its first column). Every test starts its own
tmux server on a socket of its own (`tmux -L gcpause-test-<random>`) and kills it, and anything
still running in it, at the end.

The targets are tests/workloads/top_workload.py under Debian's python3.11: two of them run for
the whole module and make cyclic garbage without pause, one lightly and one heavily (so that
their GC shares differ by far), and run a full gc.collect() when told "collect" on stdin.

Inside the pane gcpause runs from a shell that, once it has exited, prints `EXIT=<status>`, saves
the status and `stty -a` (to see that the terminal was restored) in files, and sleeps: the text
left on the screen and in the history can still be read. The shell survives a Ctrl-C sent to
the pane (`trap : INT`).

What is checked: the header, rows and footer, the GCS counts growing; a gc.collect() showing in
the selected process's gen-2 histogram; the sort keys (order of rows for each), j/k/Down/Up
and the pane following the selection, the selected row in reverse video; the window toggle and
pause; resizes down to 1x1 and back; a target exiting while selected; q and Ctrl-C (exit 0,
terminal restored, summary printed); the refusal without a terminal; --http's requests line;
`top -- COMMAND` with a command that writes to the terminal and reads stdin.
"""

import os
import re
import shlex
import signal
import subprocess
import threading
import time
import urllib.request
import uuid
from pathlib import Path

import pytest

from conftest import GCPAUSE, PYTHON, REPO, LineReader, ProcessSet, popen, run_gcpause

TOP_WORKLOAD = REPO / "tests" / "workloads" / "top_workload.py"
WIDTH, HEIGHT = 160, 50
# Until gcpause shows both targets as rows (BPF load and attach included).
START_TIMEOUT = 20
# For the screen to follow a key or a refresh (the default refresh is 1 s).
REDRAW_TIMEOUT = 4
SORT_KEYS = ("pid", "gc%", "gen2 p99", "max")
HTTP_SORT_KEY = "req p99"

DURATION = r"\d+(?:\.\d+)?\s?(?:ns|µs|us|ms|s)"
BUCKET_RE = re.compile(rf"^\s*({DURATION})\s*->\s*({DURATION})\s*:?\s*(\d+)\s*\|")
ROW_RE = re.compile(r"^(>?)\s*(\d+)\s")


# --------------------------------------------------------------------------
# Targets
# --------------------------------------------------------------------------

class TopWorkload:
    """top_workload.py: garbage without end; "collect" and "exit" on stdin."""

    def __init__(self, procs, *args):
        self.proc = popen(procs, [PYTHON, TOP_WORKLOAD] + [str(a) for a in args],
                          stdin=subprocess.PIPE)
        self.pid = self.proc.pid
        self.out = LineReader(self.proc.stdout, f"top_workload {self.pid} stdout")
        self.err = LineReader(self.proc.stderr, f"top_workload {self.pid} stderr")
        self._seen = 0

    def wait_line(self, prefix, timeout=30):
        try:
            line = self.out.wait_for(lambda l: l.startswith(prefix), timeout,
                                     f"{prefix!r} line", start=self._seen)
        except AssertionError as e:
            raise AssertionError(f"{e}\nworkload stderr: {self.err.snapshot()}") from None
        self._seen = self.out.snapshot().index(line, self._seen) + 1
        return line

    def wait_ready(self):
        assert self.wait_line("ready") == f"ready {self.pid}"

    def send(self, cmd):
        self.proc.stdin.write(cmd + "\n")
        self.proc.stdin.flush()

    def collect(self):
        self.send("collect")
        return int(self.wait_line("collected", timeout=10).split()[1])

    def exit(self, timeout=10):
        try:
            self.send("exit")
        except (BrokenPipeError, OSError):
            pass
        return self.proc.wait(timeout)


@pytest.fixture(scope="module")
def targets(gcpause_bin):
    """(light, heavy): two workloads alive for the whole module, light started first."""
    ps = ProcessSet()
    try:
        light = TopWorkload(ps, "--cycles", "200", "--sleep", "0.02")
        heavy = TopWorkload(ps, "--cycles", "3000", "--sleep", "0.001")
        light.wait_ready()
        heavy.wait_ready()
        yield light, heavy
    finally:
        ps.kill_all()


@pytest.fixture
def procs_local():
    ps = ProcessSet()
    try:
        yield ps
    finally:
        ps.kill_all()


@pytest.fixture(scope="module")
def top_gcpause(gcpause_bin, targets):
    """Fails every test of this file, clearly, while gcpause has no `top`."""
    res = run_gcpause([GCPAUSE, "top", "-p", targets[0].pid], timeout=30)
    said = (res.stderr.strip() or res.stdout.strip()).splitlines()[:3]
    if res.returncode == 2 and ("unexpected argument" in res.stderr
                                or "unknown" in res.stderr):
        pytest.fail(f"gcpause has no `top`: `gcpause top -p PID` exited 2: {said}",
                    pytrace=False)
    return gcpause_bin


# --------------------------------------------------------------------------
# The terminal
# --------------------------------------------------------------------------

def _children(pid):
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(c) for c in f.read().split()]
    except OSError:
        return []


def _running(pid):
    """Whether pid exists and is not a zombie (its parent may be gone, its reaper slow)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _descendants(pid):
    out, todo = [], [pid]
    while todo:
        for c in _children(todo.pop()):
            out.append(c)
            todo.append(c)
    return out


def parse_ns(d, what=""):
    m = re.fullmatch(r"(\d+(?:\.\d+)?)\s?(ns|µs|us|ms|s)", d)
    assert m, f"not a duration: {d!r} {what}"
    return float(m.group(1)) * {"ns": 1, "us": 1e3, "µs": 1e3, "ms": 1e6, "s": 1e9}[m.group(2)]


class Screen:
    """One capture of the pane, parsed along the spec of `gcpause top`."""

    def __init__(self, text, height):
        lines = text.split("\n")
        if lines and lines[-1] == "":
            lines.pop()
        # capture-pane may leave out trailing empty lines; keep the screen's height.
        self.lines = (lines + [""] * height)[:max(height, len(lines))]
        self.text = "\n".join(self.lines)

    def __str__(self):
        return self.text

    # -- line 1 ----------------------------------------------------------

    @property
    def header(self):
        return self.lines[0]

    def header_field(self, regex, what):
        m = re.search(regex, self.header)
        assert m, f"no {what} in the header line {self.header!r}; screen:\n{self}"
        return m.group(1)

    def window(self):
        return self.header_field(r"window: (since start|last \S+)", "window: ...")

    @property
    def paused(self):
        return re.search(r"\bPAUSED\b", self.header) is not None

    # -- the table -------------------------------------------------------

    def table_header_index(self):
        for i, l in enumerate(self.lines):
            if "PID" in l and "COMMAND" in l and "GC%" in l:
                return i
        return None

    def rows(self):
        """[(selected, pid, line)] in screen order."""
        i = self.table_header_index()
        if i is None:
            return []
        rows = []
        for line in self.lines[i + 1:]:
            m = ROW_RE.match(line)
            if not m:
                break
            rows.append((m.group(1) == ">", int(m.group(2)), line))
        return rows

    def pids(self):
        return [pid for _, pid, _ in self.rows()]

    def row(self, pid):
        for _, p, line in self.rows():
            if p == pid:
                return line
        return None

    def selected(self):
        sel = [pid for s, pid, _ in self.rows() if s]
        assert len(sel) <= 1, f"more than one selected row: {sel}; screen:\n{self}"
        return sel[0] if sel else None

    def column_values(self, pid, label):
        """Every value in pid's row under a header label exactly `label` (one per occurrence).

        The value is the row's token overlapping the label's span most: right- or
        left-aligned, a column is as wide as its widest cell, so they overlap.
        """
        hi = self.table_header_index()
        assert hi is not None, f"no table header (PID, COMMAND, GC%); screen:\n{self}"
        header = self.lines[hi]
        line = self.row(pid)
        assert line is not None, f"no row for pid {pid}; screen:\n{self}"
        cells = [(m.start(), m.end(), m.group()) for m in re.finditer(r"\S+", line)]
        values = []
        for h in re.finditer(rf"(?<!\S){re.escape(label)}(?!\S)", header):
            # Most overlap first, then (a misaligned cell) the nearest one.
            center = (h.start() + h.end()) / 2
            best = max(cells, default=None, key=lambda c: (
                min(c[1], h.end()) - max(c[0], h.start()), -abs((c[0] + c[1]) / 2 - center)))
            assert best is not None, f"empty row for {pid}: {line!r}"
            best = best[2]
            values.append(best)
        assert values, f"no column {label!r} in the table header {header!r}; screen:\n{self}"
        return values

    def gcs(self, pid):
        """Collections in the window: the GCS column (summed if there is one per generation)."""
        total = 0
        for v in self.column_values(pid, "GCS"):
            assert re.fullmatch(r"\d+", v), f"GCS value {v!r} is not a count; screen:\n{self}"
            total += int(v)
        return total

    def gc_percent(self, pid):
        v = self.column_values(pid, "GC%")[0]
        m = re.fullmatch(r"(\d+(?:\.\d+)?)%?", v)
        assert m, f"GC% value {v!r} is not a percentage; screen:\n{self}"
        return float(m.group(1))

    def duration_ns(self, pid, label):
        """A duration cell (e.g. under "G2 P99") in ns; "-" (no collection) is -1."""
        v = self.column_values(pid, label)[0]
        if v == "-":
            return -1
        return parse_ns(v, f"{label} of pid {pid}: {v!r}; screen:\n{self}")

    def max_ns(self, pid):
        """The largest pause of any generation, as the "G<g> MAX" cells show it."""
        return max(self.duration_ns(pid, f"G{g} MAX") for g in range(3))

    def table_text(self):
        return [line for _, _, line in self.rows()]

    # -- the histogram pane ----------------------------------------------

    def pane_pid(self):
        for l in self.lines:
            m = re.match(r"^\s*pid (\d+) (\S+): pauses", l)
            if m:
                return int(m.group(1))
        return None

    def buckets(self, gen):
        """[(low, high, count)] of the `gen G` block, or None if there is no such title.

        The block is read from the title's column down, so side-by-side blocks work too.
        """
        for i, l in enumerate(self.lines):
            m = re.search(rf"(?<!\S)gen {gen}\b", l)
            if not m or i == 0 or "q quit" in l:
                continue
            col = m.start()
            nxt = re.search(r"(?<!\S)gen \d\b", l[m.end():])
            end = m.end() + nxt.start() if nxt else None
            out = []
            for line in self.lines[i + 1:]:
                seg = line[col:end]
                if not seg.strip() or re.search(r"(?<!\S)gen \d\b", seg) or "q quit" in seg:
                    break
                b = BUCKET_RE.match(seg)
                if b:
                    out.append((b.group(1), b.group(2), int(b.group(3))))
            return out
        return None

    # -- the footer --------------------------------------------------------

    def footer(self):
        for l in reversed(self.lines):
            if l.strip():
                return l
        return ""

    def sort_key(self):
        m = re.search(r"s sort: (\S+(?: \S+)*?)(?:\s{2,}|\s*$)", self.footer())
        return m.group(1) if m else None


class Tmux:
    """A tmux server of its own with one session running `gcpause top ARGS` in a shell."""

    def __init__(self, tmp_path, top_args, width=WIDTH, height=HEIGHT, env=None):
        self.sock = f"gcpause-test-{uuid.uuid4().hex[:12]}"
        self.target = "top:0.0"
        self.height = height
        self.status_file = Path(tmp_path) / f"{self.sock}.status"
        self.stty_file = Path(tmp_path) / f"{self.sock}.stty"
        self.env = dict(os.environ, TERM="xterm-256color", SHELL="/bin/sh", **(env or {}))
        self.env.pop("TMUX", None)
        cmd = " ".join(shlex.quote(str(a)) for a in [GCPAUSE, "top"] + list(top_args))
        self.cmd = cmd
        # The shell catches SIGINT (a handler, not SIG_IGN, so gcpause gets the default
        # disposition) to outlive a Ctrl-C sent to the pane's foreground process group.
        shell = (f"trap : INT; {cmd}; rc=$?; echo EXIT=$rc; "
                 f"stty -a > {shlex.quote(str(self.stty_file))}; "
                 f"echo $rc > {shlex.quote(str(self.status_file))}; sleep 300")
        # No user configuration; history for the summary printed at the end.
        conf = Path(tmp_path) / f"{self.sock}.conf"
        conf.write_text("set-option -g history-limit 5000\n")
        self.pane_pid = self.socket_path = None
        self.tmux("-f", conf, "new-session", "-d", "-s", "top", "-x", width,
                  "-y", height, "-c", REPO, shell)
        try:
            self.pane_pid = int(self.fmt("#{pane_pid}"))
            self.socket_path = self.fmt("#{socket_path}")
        except Exception:
            self.kill()
            raise

    def tmux(self, *args, check=True):
        r = subprocess.run(["tmux", "-L", self.sock] + [str(a) for a in args],
                           capture_output=True, text=True, timeout=10, env=self.env)
        if check and r.returncode != 0:
            raise AssertionError(f"tmux {' '.join(map(str, args))} failed "
                                 f"({r.returncode}): {r.stderr.strip()}")
        return r.stdout

    def kill(self):
        pids = _descendants(self.pane_pid) if self.pane_pid else []
        self.tmux("kill-server", check=False)
        deadline = time.monotonic() + 5
        for pid in pids:
            while time.monotonic() < deadline:
                if not _running(pid):
                    break
                time.sleep(0.05)
            else:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        # The server leaves its socket behind.
        if self.socket_path and os.path.basename(self.socket_path) == self.sock:
            try:
                os.unlink(self.socket_path)
            except OSError:
                pass

    # -- reading ---------------------------------------------------------

    def capture(self, history=False):
        args = ["capture-pane", "-p", "-t", self.target]
        if history:
            args += ["-J", "-S", "-"]
        return Screen(self.tmux(*args), 0 if history else self.height)

    def capture_attrs(self):
        return self.tmux("capture-pane", "-p", "-e", "-t", self.target)

    def exit_status(self):
        try:
            text = self.status_file.read_text().strip()
        except FileNotFoundError:
            return None
        return int(text) if text else None

    def fmt(self, f):
        return self.tmux("display-message", "-p", "-t", self.target, f).strip()

    def wait(self, pred, what, timeout=REDRAW_TIMEOUT, allow_exit=False):
        """The first screen for which pred(screen) is true; fails on timeout or if gcpause exits."""
        deadline = time.monotonic() + timeout
        last = None
        while True:
            rc = self.exit_status()
            last = self.capture()
            if rc is not None and not allow_exit:
                hist = self.capture(history=True)
                raise AssertionError(
                    f"gcpause top exited with status {rc} while waiting for {what}; "
                    f"screen and history:\n{hist}")
            try:
                if pred(last):
                    return last
            except AssertionError:
                pass
            if time.monotonic() >= deadline:
                try:
                    pred(last)
                    detail = ""
                except AssertionError as e:
                    detail = f" ({str(e).splitlines()[0]})"
                raise AssertionError(f"no {what} within {timeout} s{detail}; "
                                     f"screen ({self.cmd}):\n{last}")
            time.sleep(0.1)

    def alive(self):
        return self.exit_status() is None

    # -- writing ---------------------------------------------------------

    def keys(self, *keys):
        self.tmux("send-keys", "-t", self.target, *keys)

    def resize(self, width, height):
        self.tmux("resize-window", "-t", "top:0", "-x", width, "-y", height)
        self.height = height


@pytest.fixture
def term(tmp_path, top_gcpause):
    """term(args) starts `gcpause top ARGS` in a fresh tmux server, killed after the test."""
    started = []

    def start(args, **kw):
        t = Tmux(tmp_path, args, **kw)
        started.append(t)
        return t

    try:
        yield start
    finally:
        for t in started:
            t.kill()


def has_rows(*pids):
    def pred(s):
        return all(s.row(p) is not None for p in pids)
    return pred


def start_top(term, pids, extra=()):
    args = list(extra)
    for p in pids:
        args += ["-p", p]
    t = term(args)
    return t, t.wait(has_rows(*pids), f"rows for pids {pids}", timeout=START_TIMEOUT)


def select(t, pid):
    """Moves the selection onto pid's row with j/k; returns the screen."""
    s = t.capture()
    for _ in range(8):
        pids = s.pids()
        sel = s.selected()
        assert pid in pids, f"no row for pid {pid}; screen:\n{s}"
        assert sel is not None, \
            f"no selected row (a '>' in the first column); screen:\n{s}\n" \
            f"with attributes:\n{t.capture_attrs()!r}"
        if sel == pid:
            return s
        key = "j" if pids.index(sel) < pids.index(pid) else "k"
        t.keys(key)
        s = t.wait(lambda s, old=sel: s.selected() != old,
                   f"the selection to move off pid {sel} after {key!r}")
    raise AssertionError(f"could not select pid {pid}; screen:\n{s}")


# --------------------------------------------------------------------------
# Tests
# --------------------------------------------------------------------------

def test_rows_and_counts_grow(term, targets):
    light, heavy = targets
    t, s = start_top(term, [light.pid, heavy.pid])

    assert s.header.startswith("gcpause top"), f"line 1: {s.header!r}\n{s}"
    assert s.header_field(r"(\d+) process", "process count") == "2", s.header
    assert float(s.header_field(r"([\d.]+) collections/s", "collections/s")) >= 0
    assert re.search(r"GC \d+\.\d\d% of wall", s.header), f"no GC % of wall: {s.header!r}"
    assert s.header_field(r"dropped (\d+)", "dropped") == "0", s.header
    assert s.window() == "since start", s.header
    assert not s.paused, s.header
    assert "requests/s" not in s.text, f"a requests line without --http:\n{s}"
    assert sorted(s.pids()) == sorted([light.pid, heavy.pid]), \
        f"rows are not exactly the two targets: {s.pids()}\n{s}"
    for pid in (light.pid, heavy.pid):
        assert "python3.11" in s.row(pid), f"no COMMAND python3.11 in {s.row(pid)!r}"
    assert s.selected() in (light.pid, heavy.pid), \
        f"no selected row ('>' in the first column):\n{s}\nwith attributes:\n" \
        f"{t.capture_attrs()!r}"
    assert s.pane_pid() == s.selected(), \
        f"histogram pane is not for the selected pid {s.selected()}:\n{s}"
    # The selected row is in reverse video (SGR 7), the other one not.
    attrs = t.capture_attrs().split("\n")
    for pid in (light.pid, heavy.pid):
        line = next((l for l in attrs if re.match(rf"^(\x1b\[[\d;]*m)*>?\s*{pid}\s", l)), None)
        assert line is not None, f"no row for {pid} in the capture with attributes: {attrs!r}"
        prefix = re.match(r"^(\x1b\[[\d;]*m)*", line).group()
        reverse = re.search(r"\x1b\[(?:[\d;]*;)?7(?:;[\d;]*)?m", prefix) is not None
        assert reverse == (pid == s.selected()), \
            f"pid {pid} (selected: {s.selected()}) row reverse video is {reverse}: {line!r}"
    footer = s.lines[HEIGHT - 1]
    for word in ("q quit", "j/k select", "PgUp/PgDn scroll", "s sort:", "w window",
                 "p pause"):
        assert word in footer, f"footer (last line) {footer!r} lacks {word!r}:\n{s}"
    assert s.sort_key() in SORT_KEYS, f"sort key {s.sort_key()!r} in {footer!r}"
    assert t.fmt("#{alternate_on}") == "1", "top does not use the alternate screen"

    first = {pid: s.gcs(pid) for pid in (light.pid, heavy.pid)}
    time.sleep(2.5)
    s2 = t.wait(has_rows(light.pid, heavy.pid), "both rows 2.5 s later")
    second = {pid: s2.gcs(pid) for pid in (light.pid, heavy.pid)}
    for pid in first:
        assert second[pid] > first[pid], \
            f"pid {pid}: GCS did not grow in 2.5 s ({first[pid]} -> {second[pid]}):\n" \
            f"before:\n{s}\nafter:\n{s2}"
    # Since start, 2.5 s later: the heavy target collects hundreds of times a second.
    assert second[heavy.pid] - first[heavy.pid] >= 50, (first, second)
    assert float(s2.header_field(r"([\d.]+) collections/s", "collections/s")) > 0, s2.header


def test_full_collection_in_gen2_histogram(term, targets):
    light, heavy = targets
    t, s = start_top(term, [light.pid, heavy.pid])
    s = select(t, light.pid)
    s = t.wait(lambda s: s.pane_pid() == light.pid,
               f"histogram pane 'pid {light.pid} ...: pauses'")

    # A generation without collections may have no block at all.
    b = s.buckets(2)
    before = sum(c for _, _, c in b) if b else 0

    light.collect()
    s = t.wait(lambda s: s.pane_pid() == light.pid and s.buckets(2) is not None
               and sum(c for _, _, c in s.buckets(2)) >= before + 1,
               f"a gen 2 bucket count for pid {light.pid} above {before} after gc.collect()")
    nonempty = [b for b in s.buckets(2) if b[2] > 0]
    assert nonempty, s
    ns = parse_ns
    for low, high, _ in s.buckets(2):
        assert ns(low) < ns(high), f"bucket {low} -> {high}:\n{s}"
    # A full collection over a 100,000-object heap takes far more than a microsecond and far
    # less than a second.
    assert ns(nonempty[-1][1]) > 1e3 and ns(nonempty[0][0]) < 1e9, nonempty


def test_sort_and_select(term, targets):
    light, heavy = targets
    t, s = start_top(term, [light.pid, heavy.pid])
    # A full collection in the light target: the only gen-2 pause on screen (the heavy
    # target's garbage dies young), so sorting by gen-2 p99 reverses the gc% order.
    light.collect()
    s = t.wait(lambda s: s.duration_ns(light.pid, "G2 P99") > 0,
               f"a G2 P99 for pid {light.pid} after gc.collect()")

    # s cycles through the four keys and back.
    seen = [s.sort_key()]
    assert seen[0] in SORT_KEYS, f"sort key {seen[0]!r}:\n{s}"
    for _ in range(len(SORT_KEYS)):
        t.keys("s")
        s = t.wait(lambda s, old=seen[-1]: s.sort_key() not in (None, old),
                   f"the footer's sort key to change from {seen[-1]!r} after 's'")
        seen.append(s.sort_key())
    assert sorted(seen[:-1]) == sorted(SORT_KEYS), f"sort keys seen: {seen}"
    assert seen[-1] == seen[0], f"s does not cycle: {seen}"

    # By pid: ascending PIDs.
    for _ in range(len(SORT_KEYS)):
        if s.sort_key() == "pid":
            break
        t.keys("s")
        s = t.wait(lambda s, old=s.sort_key(): s.sort_key() != old, "the next sort key")
    s = t.wait(lambda s: s.sort_key() == "pid" and len(s.pids()) == 2
               and s.pids() == sorted(s.pids()), "rows in ascending PID order under sort pid")
    pid_order = s.pids()

    # By gc%: the heavy target (by far the larger share) first, GC% not increasing.
    t.keys("s")
    s = t.wait(lambda s: s.sort_key() == "gc%", "sort key gc% after pid")
    s = t.wait(lambda s: s.sort_key() == "gc%" and len(s.pids()) == 2
               and s.gc_percent(s.pids()[0]) >= s.gc_percent(s.pids()[1]),
               "rows by decreasing GC% under sort gc%")
    assert s.gc_percent(heavy.pid) > s.gc_percent(light.pid), \
        f"the heavy target's GC% is not above the light one's:\n{s}"
    assert s.pids() == [heavy.pid, light.pid], f"gc% order {s.pids()}:\n{s}"
    # Light was started first, so (but for PID wrap-around) the two orders differ: both
    # sorts were really applied.
    assert pid_order == sorted([light.pid, heavy.pid]), pid_order

    # By gen-2 p99, then by the largest pause: not increasing ("-", no collection, last).
    def by(key, value):
        def pred(s):
            p = s.pids()
            return (s.sort_key() == key and len(p) == 2
                    and value(s, p[0]) >= value(s, p[1]))
        return pred

    t.keys("s")
    s = t.wait(by("gen2 p99", lambda s, pid: s.duration_ns(pid, "G2 P99")),
               "rows by decreasing G2 P99 under sort 'gen2 p99'")
    if s.duration_ns(heavy.pid, "G2 P99") < 0:
        assert s.pids() == [light.pid, heavy.pid], f"gen2 p99 order {s.pids()}:\n{s}"
    t.keys("s")
    s = t.wait(by("max", lambda s, pid: s.max_ns(pid)),
               "rows by decreasing max pause (G0/G1/G2 MAX) under sort 'max'")

    # j and k (and Down and Up) move the marker, and the pane follows.
    sel = s.selected()
    assert sel is not None, f"no selected row:\n{s}\n{t.capture_attrs()!r}"
    pids = s.pids()
    i = pids.index(sel)
    other = pids[1 - i]
    key, back = ("j", "k") if i == 0 else ("k", "j")
    t.keys(key)
    s = t.wait(lambda s: s.selected() == other and s.pane_pid() == other,
               f"selection and pane on pid {other} after {key!r}")
    t.keys(back)
    s = t.wait(lambda s: s.selected() == sel and s.pane_pid() == sel,
               f"selection and pane back on pid {sel} after {back!r}")
    key, back = ("Down", "Up") if i == 0 else ("Up", "Down")
    t.keys(key)
    s = t.wait(lambda s: s.selected() == other, f"selection on pid {other} after {key}")
    t.keys(back)
    s = t.wait(lambda s: s.selected() == sel, f"selection on pid {sel} after {back}")
    assert HTTP_SORT_KEY not in seen


def test_window_and_pause(term, targets):
    light, heavy = targets
    t, s = start_top(term, [light.pid, heavy.pid])
    assert s.window() == "since start"
    time.sleep(3)
    s = t.capture()
    since_start = s.gcs(heavy.pid)

    t.keys("w")
    s = t.wait(lambda s: s.window().startswith("last "), "'window: last ...' after 'w'")
    # Wait for a refresh computed over the last interval (1 s) only.
    s = t.wait(lambda s: s.window().startswith("last ") and s.gcs(heavy.pid) < since_start,
               f"heavy pid's GCS over the last interval below {since_start} (since start)")
    assert s.gcs(heavy.pid) > 0, f"no collection in the last interval:\n{s}"
    t.keys("w")
    s = t.wait(lambda s: s.window() == "since start", "'window: since start' after 'w' again")
    s = t.wait(lambda s: s.gcs(heavy.pid) >= since_start,
               f"heavy pid's GCS since start back at >= {since_start}")

    t.keys("p")
    s = t.wait(lambda s: s.paused, "PAUSED in the header after 'p'")
    frozen = s
    time.sleep(2.2)
    s = t.capture()
    assert s.paused, f"PAUSED gone by itself:\n{s}"
    assert s.table_text() == frozen.table_text() and s.header == frozen.header, \
        f"numbers changed while paused:\nfirst:\n{frozen}\n2.2 s later:\n{s}"
    assert s.table_text(), s

    t.keys("p")
    s = t.wait(lambda s: not s.paused, "PAUSED gone after 'p' again")
    s = t.wait(lambda s: not s.paused and s.gcs(heavy.pid) > frozen.gcs(heavy.pid),
               "GCS growing again after resuming")


def test_resize_tiny_and_back(term, targets):
    light, heavy = targets
    t, s = start_top(term, [light.pid, heavy.pid])

    t.resize(40, 12)
    time.sleep(1.5)
    assert t.fmt("#{window_width}x#{window_height}") == "40x12"
    s = t.wait(lambda s: s.text.strip() != "", "something on the 40x12 screen")
    assert re.search(r"gcpause|small|PID|\b%d\b" % light.pid, s.text), \
        f"nothing sensible at 40x12:\n{s}"
    for line in s.lines:
        assert len(line) <= 40, f"a line wider than 40 columns: {line!r}"

    for w, h in ((20, 5), (10, 3), (1, 1), (120, 8), (40, 12)):
        t.resize(w, h)
        time.sleep(0.3)
    time.sleep(1.2)
    assert t.alive(), f"gcpause top died after resizes:\n{t.capture(history=True)}"

    t.resize(80, 24)
    s = t.wait(has_rows(light.pid, heavy.pid), "both rows at 80x24")
    assert s.header.startswith("gcpause top"), s

    t.resize(WIDTH, HEIGHT)
    s = t.wait(lambda s: has_rows(light.pid, heavy.pid)(s) and "GCS" in s.lines[
        s.table_header_index()] and "q quit" in s.lines[HEIGHT - 1],
        f"the full table and footer back at {WIDTH}x{HEIGHT}")
    g = s.gcs(heavy.pid)
    s = t.wait(lambda s: s.gcs(heavy.pid) > g, "GCS growing after the resizes")
    assert s.pane_pid() == s.selected(), s


def test_target_exits_while_shown(term, targets, procs_local):
    light, _ = targets
    short = TopWorkload(procs_local, "--cycles", "500", "--sleep", "0.01", "--heap", "20000")
    short.wait_ready()
    t, s = start_top(term, [light.pid, short.pid])
    # The worst case: the exiting process is the selected one, its histogram shown.
    s = select(t, short.pid)
    s = t.wait(lambda s: s.pane_pid() == short.pid, f"pane for pid {short.pid}")

    assert short.exit() == 0
    s = t.wait(lambda s: s.row(short.pid) is None or "exited" in s.row(short.pid),
               f"pid {short.pid}'s row marked 'exited' or gone", timeout=6)
    assert s.row(light.pid) is not None, s
    for k in ("j", "k", "j", "s", "w", "w", "NPage", "PPage"):
        t.keys(k)
        time.sleep(0.1)
    time.sleep(1.5)
    s = t.wait(has_rows(light.pid), f"pid {light.pid}'s row after the exit")
    g = s.gcs(light.pid)
    s = t.wait(lambda s: s.gcs(light.pid) > g, f"pid {light.pid}'s GCS still growing")
    assert s.row(short.pid) is None or "exited" in s.row(short.pid), s
    # docs/top.md: exited processes are listed last.
    assert s.row(short.pid) is None or s.pids()[-1] == short.pid, s


def check_clean_exit(t, pids, how):
    """gcpause top has exited 0, the terminal is as it was, the summary lists pids."""
    t.wait(lambda s: t.exit_status() is not None, f"gcpause top to exit after {how}",
           timeout=10, allow_exit=True)
    hist = t.capture(history=True)
    assert t.exit_status() == 0, f"exit status {t.exit_status()} after {how}:\n{hist}"
    assert "EXIT=0" in hist.text, hist
    assert t.fmt("#{alternate_on}") == "0", f"still on the alternate screen:\n{hist}"
    assert t.fmt("#{cursor_flag}") == "1", "cursor left hidden"
    stty = t.stty_file.read_text()
    for flag in ("icanon", "echo", "isig", "icrnl", "onlcr"):
        assert re.search(rf"(?<![-\w]){flag}\b", stty), \
            f"terminal not restored: '{flag}' off in stty -a:\n{stty}"
    assert "q quit" not in t.capture().text, f"the UI is left on the screen:\n{t.capture()}"

    text = hist.text
    n = len(pids)
    assert re.search(rf"=== gcpause summary: .*\b{n} process(es)? ===", text), \
        f"no '=== gcpause summary: ..., {n} processes ===':\n{text}"
    summary = text[text.index("=== gcpause summary"):]
    for pid in pids:
        assert re.search(rf"^pid {pid} python3\.11\b", summary, re.M), \
            f"no 'pid {pid} python3.11' block in the summary:\n{summary}"
        # Its per-generation table, with collections counted.
        block = summary[re.search(rf"^pid {pid} ", summary, re.M).start():]
        m = re.search(r"^\s+all\s+(\d+)\s", block, re.M)
        assert m and int(m.group(1)) > 0, f"no 'all' row with collections:\n{block}"
    return hist


@pytest.mark.parametrize("key,size", [("q", None), ("C-c", None), ("q", (30, 6))],
                         ids=["q", "ctrl-c", "q-too-small"])
def test_quit_prints_summary(term, targets, key, size):
    """q, Ctrl-C (SIGINT from the terminal) as everywhere else in gcpause, and q on a screen
    too small to show anything but a message."""
    light, heavy = targets
    t, s = start_top(term, [light.pid, heavy.pid])
    time.sleep(1)
    if size:
        t.resize(*size)
        s = t.wait(lambda s: "small" in s.text, f"a 'too small' message at {size}")
    t.keys(key)
    check_clean_exit(t, [light.pid, heavy.pid], repr(key))
    assert light.proc.poll() is None and heavy.proc.poll() is None, "a target died"


def test_not_a_terminal(targets, top_gcpause, tmp_path):
    light, _ = targets
    out = tmp_path / "top.out"
    with open(out, "w") as f:
        res = subprocess.run([str(GCPAUSE), "top", "-p", str(light.pid)], stdin=subprocess.DEVNULL,
                             stdout=f, stderr=subprocess.PIPE, text=True, timeout=20, cwd=REPO)
    assert res.returncode == 1, f"exit status {res.returncode}; stderr: {res.stderr!r}"
    lines = res.stderr.splitlines()
    assert len(lines) == 1 and "top needs a terminal" in lines[0], \
        f"stderr is not one line with 'top needs a terminal': {res.stderr!r}"
    assert out.read_text() == "", f"stdout got {out.read_text()!r}"
    assert light.proc.poll() is None


def test_http_requests_line(term, procs_local):
    srv = TopWorkload(procs_local, "--http", "--cycles", "300", "--sleep", "0.01",
                      "--heap", "20000")
    port = int(srv.wait_line("port").split()[1])
    srv.wait_ready()
    stop = threading.Event()
    sent = []

    def client():
        while not stop.is_set():
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/x", timeout=2) as r:
                    r.read()
                sent.append(1)
            except OSError:
                pass
            stop.wait(0.02)

    th = threading.Thread(target=client, daemon=True)
    try:
        t, s = start_top(term, [srv.pid], extra=["--http"])
        th.start()
        req = re.compile(rf"^requests/s (\d+(?:\.\d+)?)\s+p99 ({DURATION})\s+"
                         rf"\(gc-hit p99 (\S+(?: ?\S+)?), clean p99 (\S+(?: ?\S+)?)\)")
        s = t.wait(lambda s: req.match(s.lines[1]) and float(req.match(s.lines[1]).group(1)) > 0,
                   "line 2 'requests/s R  p99 D  (gc-hit p99 D, clean p99 D)' with R > 0",
                   timeout=8)
        # One process: its REQ/S column is line 2's figure, in the same frame.
        s = t.wait(lambda s: s.column_values(srv.pid, "REQ/S")[0]
                   == req.match(s.lines[1]).group(1),
                   "the row's REQ/S equal to line 2's requests/s")
        # docs/top.md: with --http the pane also has the latency of requests with and
        # without a collection inside them.
        s = t.wait(lambda s: "requests without a collection" in s.text,
                   "the 'requests without a collection' histogram")
        seen = [s.sort_key()]
        for _ in range(len(SORT_KEYS) + 1):
            t.keys("s")
            s = t.wait(lambda s, old=seen[-1]: s.sort_key() not in (None, old),
                       f"the sort key to change from {seen[-1]!r}")
            seen.append(s.sort_key())
        assert sorted(seen[:-1]) == sorted(SORT_KEYS + (HTTP_SORT_KEY,)), seen
        assert seen[-1] == seen[0], seen
    finally:
        stop.set()
        th.join(5)
    assert sent, "the client got no response"


def test_command_mode_owns_the_terminal(term):
    """`top -- COMMAND`: the command's output stays off the screen and its reads of stdin
    do not take the keys (else the view is scrolled and garbled, and `q` may never arrive)."""
    t = term(["--", PYTHON, TOP_WORKLOAD, "--chatty", "0.2", "--stay", "--heap", "20000"])
    child = None
    try:
        s = t.wait(lambda s: len(s.pids()) == 1, "a row for the command", timeout=START_TIMEOUT)
        child = s.pids()[0]
        with open(f"/proc/{child}/cmdline", "rb") as f:
            assert b"top_workload.py" in f.read(), f"row {child} is not the command:\n{s}"
        time.sleep(1.5)  # the command prints a line on stdout and stderr every 0.2 s
        s = t.capture()
        # Its output is "chatty <n>"; the pane shows its command line ("--chatty 0.2").
        assert not re.search(r"(?<![-\w])chatty \d", s.text), \
            f"the command's output is on the screen:\n{s}"
        assert s.header.startswith("gcpause top"), f"line 1 is not the header:\n{s}"
        assert "q quit" in s.lines[HEIGHT - 1], f"the footer is not the last line:\n{s}"
        for _ in range(3):
            old = s.sort_key()
            t.keys("s")
            s = t.wait(lambda s: s.sort_key() not in (None, old),
                       f"the sort key to change from {old!r} after 's'")
        t.keys("q")
        t.wait(lambda s: t.exit_status() is not None, "gcpause top to exit after 'q'",
               timeout=10, allow_exit=True)
        hist = t.capture(history=True)
        assert t.exit_status() == 0, f"exit status {t.exit_status()}:\n{hist}"
        assert re.search(rf"^pid {child} python3\.11\b", hist.text, re.M), \
            f"no summary for pid {child}:\n{hist}"
        # Where the command's output went, if gcpause says so: it has to be there.
        m = re.search(r"command's output is in (\S+)", hist.text)
        if m:
            log = Path(m.group(1))
            try:
                assert "chatty 1" in log.read_text(), f"{log}: {log.read_text()[:500]!r}"
            finally:
                log.unlink(missing_ok=True)
    finally:
        # gcpause may leave its command running: it would no longer be in the pane's tree.
        if child is not None:
            try:
                os.kill(child, signal.SIGKILL)
            except ProcessLookupError:
                pass


def test_command_output_file_in_tmpdir(term, tmp_path):
    """`top -- COMMAND` puts the command's output file in $TMPDIR, as mkstemp users expect."""
    tmpdir = tmp_path / "own-tmp"
    tmpdir.mkdir()
    t = term(["--", PYTHON, TOP_WORKLOAD, "--chatty", "0.2", "--stay", "--heap", "2000"],
             env={"TMPDIR": str(tmpdir)})
    child = None
    try:
        s = t.wait(lambda s: len(s.pids()) == 1, "a row for the command", timeout=START_TIMEOUT)
        child = s.pids()[0]
        t.wait(lambda s: any(tmpdir.glob("gcpause-top-*.log")), "the output file in TMPDIR")
        time.sleep(0.5)
        t.keys("q")
        t.wait(lambda s: t.exit_status() is not None, "gcpause top to exit after 'q'",
               timeout=10, allow_exit=True)
        hist = t.capture(history=True)
        assert t.exit_status() == 0, f"exit status {t.exit_status()}:\n{hist}"
        m = re.search(r"command's output is in (\S+)", hist.text)
        assert m and Path(m.group(1)).parent == tmpdir, hist.text[-2000:]
        assert "chatty 1" in Path(m.group(1)).read_text()
    finally:
        if child is not None:
            try:
                os.kill(child, signal.SIGKILL)
            except ProcessLookupError:
                pass


def test_sampled_rows(term, targets):
    """top --sample: the rows count collections from the interpreters' counters (growing as
    they collect), the probe column says sampled, and the pane shows the sampled figures."""
    light, heavy = targets
    t, s = start_top(term, [light.pid, heavy.pid], extra=("--sample",))
    for pid in (light.pid, heavy.pid):
        assert "sampled" in s.row(pid), f"no PROBE sampled in {s.row(pid)!r}"
    first = s.gcs(heavy.pid)
    time.sleep(2.5)
    s2 = t.wait(has_rows(light.pid, heavy.pid), "both rows 2.5 s later")
    assert s2.gcs(heavy.pid) - first >= 50, (first, s2.gcs(heavy.pid))
    assert re.search(r"sampled at 1000 Hz: collections \d+/\d+/\d+ \(exact\)", s2.text), \
        f"no sampled line in the pane:\n{s2}"
