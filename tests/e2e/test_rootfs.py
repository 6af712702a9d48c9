# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""Debian's newer Pythons (3.13, 3.14, 3.15), each running in another Debian's root.

scripts/make-rootfs.sh debootstraps a minimal trixie or forky root holding only the
interpreter (python3.X-minimal, built with the USDT markers) into build/rootfs/, once; it is
reused by later runs. The workload runs chrooted into it in its own mount namespace, like a
process in a container: the interpreter exists on the host only under the root's directory.
gcpause, attached by PID from the host, must find it through /proc/PID/root, report it as
the process sees it, and see exactly the collections the interpreter reports itself.

A version no suite provides, or a mirror that cannot be reached, skips (with the script's
message); a Python without markers or a gcpause mismatch fails.
"""

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import (BUILD, REPO, WORKLOAD, Gcpause, LineReader, Workload, check_attach,
                      check_no_losses, check_summary, check_window, gen_counts, popen,
                      stats_deltas)

MAKE_ROOTFS = REPO / "scripts" / "make-rootfs.sh"
ROOTFS_DIR = BUILD / "rootfs"
# Suites to try for each version, in order; the first that has python3.X-minimal is used.
# trixie (stable) is what a 3.13 container is likely to be; forky (testing) carries 3.14 and
# 3.15; sid and experimental are fallbacks for when testing drops or lacks a version.
SUITES = {
    "3.13": ("trixie", "forky", "sid"),
    "3.14": ("forky", "sid"),
    "3.15": ("forky", "sid", "experimental"),
}
# make-rootfs.sh: the mirror cannot be reached / the suite or package does not exist.
EXIT_UNREACHABLE = 77
EXIT_NOT_IN_ARCHIVE = 78
# The script bounds debootstrap to 900 s itself; this is a backstop.
BUILD_TIMEOUT = 1000
HEAP = "100000"


class Rootfs:
    def __init__(self, version, suite, root):
        self.version = version
        self.suite = suite
        self.root = root
        # The interpreter as the chrooted process sees it, and as the host sees it.
        self.python = f"/usr/bin/python{version}"
        self.host_python = root / self.python.lstrip("/")


def build_rootfs(version):
    """Rootfs for `version` from the first suite that has it; pytest.skip if none can."""
    package = f"python{version}-minimal"
    missing = []
    for suite in SUITES[version]:
        root = ROOTFS_DIR.resolve() / f"{suite}-python{version}"
        try:
            r = subprocess.run([str(MAKE_ROOTFS), suite, str(root), package],
                               stdin=subprocess.DEVNULL, capture_output=True, text=True,
                               timeout=BUILD_TIMEOUT, cwd=REPO)
        except subprocess.TimeoutExpired:
            pytest.skip(f"make-rootfs.sh {suite} did not finish in {BUILD_TIMEOUT} s")
        last = (r.stderr.strip() or r.stdout.strip() or "(no output)").splitlines()[-1]
        if r.returncode == 0:
            return Rootfs(version, suite, root)
        if r.returncode == EXIT_UNREACHABLE:
            pytest.skip(last)
        if r.returncode == EXIT_NOT_IN_ARCHIVE:
            missing.append(last)
            continue
        pytest.fail(f"make-rootfs.sh {suite} {root} {package}: exit {r.returncode}\n"
                    f"{r.stdout}{r.stderr}")
    pytest.skip(f"no suite provides {package}: " + "; ".join(missing))


_built = {}


@pytest.fixture(scope="session", params=sorted(SUITES), ids=lambda v: f"py{v}")
def rootfs(request):
    """Built (or found built) once per run and version, before the test's watchdog starts."""
    version = request.param
    if version not in _built:
        try:
            _built[version] = build_rootfs(version)
        except pytest.skip.Exception as e:
            _built[version] = e
    if isinstance(_built[version], pytest.skip.Exception):
        pytest.skip(_built[version].msg)
    return _built[version]


def elf_note_names(path):
    """Names of the python provider's SDT notes (via readelf), or None without readelf."""
    if shutil.which("readelf") is None:
        return None
    out = subprocess.run(["readelf", "-n", str(path)], capture_output=True, text=True,
                         timeout=30).stdout
    names, provider = set(), None
    for line in out.splitlines():
        line = line.strip()
        if line.startswith("Provider:"):
            provider = line.split(":", 1)[1].strip()
        elif line.startswith("Name:") and provider == "python":
            names.add(line.split(":", 1)[1].strip())
    return names


class RootfsWorkload(Workload):
    """gc_workload.py run by the rootfs's interpreter, chrooted, in its own mount namespace.

    `unshare --fork` stays the parent: self.proc is unshare, self.pid the python inside
    (known once it printed "ready"). --kill-child takes the python down if unshare dies.
    The ground truth is written to the root's /tmp and read from the host.
    """

    def __init__(self, procs, fs, *args):
        Workload.counter += 1
        name = f"gcpause-ground-truth-{os.getpid()}-{Workload.counter}.json"
        self.fs = fs
        self.out_file = fs.root / "tmp" / name
        self.out_file.unlink(missing_ok=True)
        shutil.copyfile(WORKLOAD, fs.root / "gc_workload.py")
        cmd = ["unshare", "--mount", "--propagation", "private", "--fork", "--kill-child",
               "chroot", fs.root, fs.python, "/gc_workload.py", "--out", f"/tmp/{name}",
               *args, "--wait"]
        self.proc = popen(procs, cmd, stdin=subprocess.PIPE)
        self.unshare_pid = self.proc.pid
        self.pid = None
        self.out = LineReader(self.proc.stdout, "rootfs workload stdout")
        self.err = LineReader(self.proc.stderr, "rootfs workload stderr")

    def wait_ready(self, timeout=30):
        super().wait_ready(timeout)
        children = []
        for task in Path(f"/proc/{self.unshare_pid}/task").iterdir():
            children += (task / "children").read_text().split()
        assert len(children) == 1, f"unshare {self.unshare_pid} has children {children}"
        self.pid = int(children[0])
        # From the host, the interpreter is the file under the root.
        exe = os.readlink(f"/proc/{self.pid}/exe")
        assert exe == str(self.fs.host_python), f"pid {self.pid} runs {exe}"
        assert os.readlink(f"/proc/{self.pid}/root") == str(self.fs.root)

    def result(self):
        try:
            return super().result()
        finally:
            self.out_file.unlink(missing_ok=True)


def test_rootfs_python_has_markers(rootfs):
    """The premise: Debian builds this interpreter with the GC markers."""
    names = elf_note_names(rootfs.host_python)
    if names is None:
        pytest.skip("readelf is not installed")
    assert {"gc__start", "gc__done"} <= names, (
        f"{rootfs.suite}'s {rootfs.python} has no python:gc__start/gc__done SDT notes "
        f"(python notes: {sorted(names)}): Debian's build, not gcpause")


def test_rootfs_python_matches_ground_truth(procs, rootfs):
    fs = rootfs
    wl = RootfsWorkload(procs, fs, "--explicit", "--heap", HEAP, "--rounds", "40")
    wl.wait_ready()
    # The premise: on the host, the interpreter's path leads elsewhere or nowhere.
    if os.path.exists(fs.python):
        assert not os.path.samefile(fs.host_python, fs.python)

    gp = Gcpause(procs, ["-p", wl.pid])
    attach = gp.wait_attach(wl.pid)
    wl.go()
    wl.wait_done()
    assert gp.stop() == 0, f"gcpause exit code; stderr: {gp.err.snapshot()}"
    assert wl.finish() == 0, f"workload stderr: {wl.err.snapshot()}"
    gt = wl.result()
    assert gt["pid"] == wl.pid, "the python inside is not in our PID namespace?"
    assert gt["executable"] == fs.python and gt["version"].startswith(fs.version + "."), gt
    assert gp.err.snapshot() == [], f"stderr in --json mode: {gp.err.snapshot()}"

    # The collections first: they matter most, and say the most when something is off.
    window = check_window(gp.events(), gt)
    counts = gen_counts(window)
    assert all(c > 0 for c in counts), f"workload did not exercise all generations: {counts}"
    assert max(e["duration_ns"] for e in window if e["gen"] == 2) > 500_000
    total = gp.total()
    check_no_losses(total)
    proc = check_summary(total, wl.pid, gp.events(), exited=False)
    assert [g["count"] for g in proc["generations"]] == stats_deltas(gt)

    # Then how gcpause names what it probed: the file as the process sees it, and the
    # root it is relative to, as gcpause (on the host) sees it; in the attach line and in
    # the summary alike.
    check_attach(attach, wl.pid, fs.python, comm=f"python{fs.version}", version=gt["version"])
    want = {"comm": f"python{fs.version}", "binary": fs.python, "root": str(fs.root),
            "version": gt["version"]}
    problems = [f"{what} {k}: {rec.get(k)!r}, expected {v!r}"
                for what, rec in (("attach", attach), ("summary", proc))
                for k, v in want.items() if rec.get(k) != v]
    assert not problems, "\n".join(problems) + f"\nattach line: {attach}"
