# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""Bad input: one "gcpause: " line on stderr, the right exit code, no hang."""

import glob
import os
import subprocess

import pytest

from conftest import GCPAUSE, PYTHON, LineReader, popen, run_gcpause

UNPRIVILEGED = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                "--inh-caps=-all", "--bounding-set=-all"]


def check_error(res, code, *keywords):
    """Exactly one stderr line "gcpause: ..." containing one of the keywords."""
    lines = res.stderr.splitlines()
    assert res.returncode == code, (
        f"exit code {res.returncode}, expected {code}; stderr: {res.stderr!r}")
    assert len(lines) == 1, f"expected one stderr line, got {lines}"
    assert lines[0].startswith("gcpause: "), lines[0]
    low = lines[0].lower()
    assert any(k.lower() in low for k in keywords), \
        f"stderr {lines[0]!r} mentions none of {keywords}"
    assert res.stdout == "", f"nothing belongs on stdout on error: {res.stdout!r}"


def dead_pid():
    """A PID that certainly existed a moment ago and no longer does."""
    pid = None
    for _ in range(10):
        p = subprocess.Popen(["true"])
        p.wait()
        if not os.path.exists(f"/proc/{p.pid}"):
            pid = p.pid
            break
    assert pid is not None
    return pid


@pytest.fixture
def sleeper(procs):
    """A running process that is not Python."""
    return popen(procs, ["sleep", "60"])


def start_python(procs, python):
    """A Python idling in a sleep loop, returned once it is really running.

    Popen returns right after exec, before the dynamic loader has mapped
    libpython; checking the target that early would race with its startup.
    """
    p = popen(procs, [python, "-c",
                      "import time\nprint('ready', flush=True)\nwhile True: time.sleep(0.1)"],
              stdin=subprocess.DEVNULL)
    LineReader(p.stdout, f"{python} stdout").wait_for(lambda l: l == "ready", 20, '"ready"')
    return p


@pytest.fixture
def python_target(procs):
    return start_python(procs, PYTHON)


def test_nonexistent_pid(gcpause_bin):
    check_error(run_gcpause([GCPAUSE, "--json", "-p", dead_pid()]), 1, "no such process")


def test_not_a_python_process(sleeper):
    check_error(run_gcpause([GCPAUSE, "--json", "-p", sleeper.pid]), 1,
                "not a python process")


def test_python_without_any_usable_probe(procs, gcpause_bin):
    """3.7: no markers, and older than any collection function gcpause knows."""
    found = sorted(glob.glob("/root/.pyenv/versions/3.7.*/bin/python3.7"))
    if not found:
        pytest.skip("no pyenv python 3.7 (a Python with neither markers nor known function)")
    p = start_python(procs, found[-1])
    check_error(run_gcpause([GCPAUSE, "--json", "-p", p.pid]), 1, "no gc markers",
                "3.8 to 3.15")


def test_forced_tier_unavailable(procs, gcpause_bin):
    """--probe usdt on a build without markers is refused, not silently changed."""
    found = sorted(glob.glob("/root/.pyenv/versions/3.12.*/bin/python3.12"))
    if not found:
        pytest.skip("no pyenv python 3.12 (a Python built without markers)")
    p = start_python(procs, found[-1])
    check_error(run_gcpause([GCPAUSE, "--json", "--probe", "usdt", "-p", p.pid]), 1,
                "no gc markers")


@pytest.mark.parametrize("case", ["not-python", "no-markers", "missing"])
def test_command_mode_refuses(gcpause_bin, case):
    """`gcpause -- COMMAND` checks the program before running it; a program that is not
    Python runs (it could load a libpython later, as uwsgi does) and is refused when it ends
    without having done so."""
    if case == "not-python":
        cmd, keywords = ["/bin/true"], ("without loading a libpython: not a python program",)
    elif case == "no-markers":
        found = sorted(glob.glob("/root/.pyenv/versions/3.7.*/bin/python3.7"))
        if not found:
            pytest.skip("no pyenv python 3.7 (a Python with neither markers nor known function)")
        cmd, keywords = [found[-1], "-c", "pass"], ("no gc markers", "3.8 to 3.15")
    else:
        cmd, keywords = ["/nonexistent/python3.11"], ("no such file", "not found")
    check_error(run_gcpause([GCPAUSE, "--json", "--"] + cmd), 1, *keywords)


def test_unprivileged(python_target):
    res = run_gcpause(UNPRIVILEGED + [GCPAUSE, "--json", "-p", python_target.pid])
    check_error(res, 1, "privilege", "CAP_BPF")


def test_privilege_checked_before_pid(gcpause_bin):
    res = run_gcpause(UNPRIVILEGED + [GCPAUSE, "--json", "-p", dead_pid()])
    check_error(res, 1, "privilege", "CAP_BPF")


@pytest.mark.parametrize("mode", [["-p"], ["--all"], ["serve", "--listen", "127.0.0.1:0"]])
def test_kernel_without_btf(python_target, mode):
    """A node whose kernel has no BTF: one line saying so, for a PID, --all and serve alike.

    /sys/kernel/btf is hidden under an empty tmpfs in a mount namespace of gcpause's own.
    """
    args = mode + ([str(python_target.pid)] if mode == ["-p"] else [])
    cmd = ["unshare", "--mount", "sh", "-c",
           'mount -t tmpfs none /sys/kernel/btf && exec "$@"', "sh", GCPAUSE] + args
    check_error(run_gcpause(cmd), 1, "no BTF")


def test_unknown_option(gcpause_bin):
    check_error(run_gcpause([GCPAUSE, "--no-such-option", "-p", "1"]), 2, "unknown option")


@pytest.mark.parametrize("args", [
    ["-p", "abc"], ["-p", "12abc"], ["-p", ""], ["-p", "-5"],
    ["-i", "soon", "-p", "1"], ["-d", "0", "-p", "1"], ["--ringbuf-kb", "3", "-p", "1"],
    [],
], ids=["pid-abc", "pid-12abc", "pid-empty", "pid-negative", "interval-text",
        "duration-zero", "ringbuf-not-pow2", "no-target"])
def test_malformed_command_line(gcpause_bin, args):
    # A malformed option value or a missing target is a usage error (exit 2),
    # like an unknown option: the command line itself is wrong. Exit 1 is for
    # well-formed input naming something that cannot be traced.
    res = run_gcpause([GCPAUSE, "--json"] + args)
    lines = res.stderr.splitlines()
    assert res.returncode == 2, f"exit code {res.returncode}; stderr: {res.stderr!r}"
    assert len(lines) == 1 and lines[0].startswith("gcpause: "), lines
    assert res.stdout == ""


def test_help_and_version(gcpause_bin):
    res = run_gcpause([GCPAUSE, "--help"])
    assert res.returncode == 0, res
    assert "--pid" in res.stdout and "--json" in res.stdout, res.stdout
    res = run_gcpause([GCPAUSE, "-V"])
    assert res.returncode == 0, res
    assert "gcpause" in res.stdout.lower() and any(ch.isdigit() for ch in res.stdout)
