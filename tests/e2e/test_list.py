# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""`gcpause list`: every Python process in sight, its build, and the probe it would get."""

import glob
import json
import os
import subprocess

import pytest

from conftest import GCPAUSE, PYTHON, LineReader, popen, run_gcpause


def start(procs, cmd, env=None):
    """A process idling until killed, returned once its interpreter runs."""
    p = popen(procs, cmd + ["-c", "import time\nprint('ready', flush=True)\n"
                                  "while True: time.sleep(0.1)"], env=env)
    LineReader(p.stdout, f"{cmd[0]} stdout").wait_for(lambda l: l == "ready", 20, '"ready"')
    return p


def pyenv(minor):
    found = sorted(glob.glob(f"/root/.pyenv/versions/{minor}.*/bin/python{minor}"))
    if not found:
        pytest.skip(f"no pyenv Python {minor}")
    return found[-1]


def test_list_explains_each_process(procs, tmp_path, embed_fixture):
    py312, py311, py37 = pyenv("3.12"), pyenv("3.11"), pyenv("3.7")
    lib311 = glob.glob(os.path.join(os.path.dirname(py311), "..", "lib",
                                    "libpython3.11.so.1.0"))[0]
    libdir = tmp_path / "lib"
    libdir.mkdir()
    subprocess.run(["strip", "--strip-all", "-o", str(libdir / "libpython3.11.so.1.0"),
                    lib311], check=True)
    expected = {
        start(procs, [PYTHON]).pid:
            ("usdt", "gil,static,stripped", "3.11.2", PYTHON),
        start(procs, [str(embed_fixture)]).pid:
            ("usdt", "gil,shared,stripped", "3.11.2", "libpython3.11.so.1.0"),
        start(procs, [py312]).pid:
            ("symbol", "gil,shared,unstripped", None, "libpython3.12.so.1.0"),
        start(procs, [py311], env=dict(os.environ, LD_LIBRARY_PATH=str(libdir))).pid:
            ("stripped", "gil,shared,stripped", None, str(libdir / "libpython3.11.so.1.0")),
        start(procs, [py37]).pid:
            (None, "gil,shared,unstripped", "3.7", "libpython3.7m.so.1.0"),
    }
    sleeper = popen(procs, ["sleep", "60"])

    res = run_gcpause([GCPAUSE, "list", "--json"], timeout=60)
    assert res.returncode == 0, res.stderr
    rows = {r["pid"]: r for r in map(json.loads, res.stdout.splitlines())}
    assert all(r["type"] == "process" for r in rows.values())
    assert sleeper.pid not in rows, "a non-Python process was listed"
    assert os.getpid() in rows, "the test runner itself (python3.11) is missing"
    for pid, (probe, build, version, binary) in expected.items():
        row = rows.get(pid)
        assert row is not None, f"pid {pid} not listed"
        assert row["probe"] == probe, row
        assert row["build"] == build, row
        assert row["binary"].endswith(binary), row
        if version:
            assert row["version"] == version, row
        if probe is None:
            assert "3.8 to 3.15" in row["error"], row
        else:
            assert "error" not in row and row["probe_source"], row

    # Text mode and PIDs given: a row each, the non-Python one explained, exit status 1.
    asked = [next(iter(expected)), sleeper.pid]
    res = run_gcpause([GCPAUSE, "list", "-p", asked[0], "-p", asked[1]])
    assert res.returncode == 1, res
    lines = res.stdout.splitlines()
    assert lines[0].split()[:3] == ["PID", "PPID", "COMM"], lines
    assert len(lines) == 3, lines
    assert lines[1].split()[0] == str(asked[0]) and " usdt " in lines[1], lines[1]
    assert lines[2].split()[0] == str(asked[1]), lines[2]
    assert "none: not a Python process" in lines[2], lines[2]
