# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""What gcpause says about the privileges it lacks: every capability named, nothing silent.

* `--help` names every capability, CAP_SYS_ADMIN (uprobes on 6.16+) and CAP_DAC_READ_SEARCH
  included;
* an unprivileged `list` that could not look at other users' processes says so on stderr,
  instead of an empty table that reads as "no Python here";
* the privilege error names every missing capability at once;
* a binary hidden by its file mode names CAP_DAC_READ_SEARCH.
"""

import json
import os
import shutil
import subprocess
import tempfile

import pytest

from conftest import GCPAUSE, PYTHON, LineReader, popen, run_gcpause

NOBODY = 65534
UNPRIVILEGED = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups",
                "--inh-caps=-all", "--bounding-set=-all"]
# Root, but without the two capabilities that pass over file modes.
NO_DAC = ["setpriv", "--inh-caps=-dac_read_search,-dac_override",
          "--bounding-set=-dac_read_search,-dac_override"]
CAPS = ("CAP_BPF", "CAP_PERFMON", "CAP_SYS_PTRACE", "CAP_DAC_READ_SEARCH", "CAP_SYS_ADMIN")


def kernel_at_least(major, minor):
    rel = os.uname().release.split(".")
    return (int(rel[0]), int(rel[1].split("-")[0])) >= (major, minor)


def test_help_names_every_capability(gcpause_bin):
    res = run_gcpause([GCPAUSE, "--help"])
    assert res.returncode == 0
    missing = [c for c in CAPS if c not in res.stdout]
    assert not missing, f"--help does not name {missing}:\n{res.stdout[-600:]}"


@pytest.mark.parametrize("json_mode", [False, True])
def test_unprivileged_list_says_why(gcpause_bin, json_mode):
    """Other users' processes (root's: this test runner, at least) cannot be looked at."""
    res = run_gcpause(UNPRIVILEGED + [GCPAUSE, "list"] + (["--json"] if json_mode else []),
                      timeout=60)
    assert res.returncode == 0, res.stderr
    notes = [l for l in res.stderr.splitlines() if "could not be looked at" in l]
    assert len(notes) == 1, f"no note on stderr: {res.stderr!r}"
    assert notes[0].startswith("gcpause: note: ") and "CAP_SYS_PTRACE" in notes[0], notes
    assert str(os.getpid()) not in res.stdout, "a root process listed to nobody"
    if json_mode:
        for line in res.stdout.splitlines():
            json.loads(line)


def test_unprivileged_error_names_every_missing_capability(gcpause_bin):
    res = run_gcpause(UNPRIVILEGED + [GCPAUSE, "-p", str(os.getpid())])
    assert res.returncode == 1
    lacks = res.stderr.split("lacks", 1)[-1]
    want = ["CAP_BPF", "CAP_PERFMON", "CAP_SYS_PTRACE", "CAP_DAC_READ_SEARCH"]
    if kernel_at_least(6, 16):
        want.append("CAP_SYS_ADMIN")
    assert all(c in lacks for c in want), f"{want} not all named: {res.stderr!r}"


@pytest.fixture
def hidden_python(procs):
    """python3.11 copied to a mode-0700 file of nobody's, run by nobody."""
    d = tempfile.mkdtemp(prefix="gcpause-dac-", dir="/tmp")
    os.chown(d, NOBODY, NOBODY)
    os.chmod(d, 0o755)
    exe = os.path.join(d, "python3.11")
    shutil.copy(PYTHON, exe)
    os.chown(exe, NOBODY, NOBODY)
    os.chmod(exe, 0o700)
    p = popen(procs, ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups",
                      exe, "-c", "print('ready', flush=True); import sys; sys.stdin.read()"],
              stdin=subprocess.PIPE)
    LineReader(p.stdout, "hidden python stdout").wait_for(lambda l: l == "ready", 20,
                                                          '"ready"')
    yield p
    shutil.rmtree(d, ignore_errors=True)


@pytest.mark.parametrize("mode", [["-d", "1", "-p"], ["list", "-p"]])
def test_missing_dac_read_search_named(hidden_python, mode):
    res = run_gcpause(NO_DAC + [GCPAUSE] + mode + [str(hidden_python.pid)], timeout=30)
    assert res.returncode == 1, res
    # Tracing says it on stderr; list in the process's row.
    said = res.stdout if mode[0] == "list" else res.stderr
    assert "Permission denied" in said and "CAP_DAC_READ_SEARCH" in said, res
