# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""A target whose interpreter exists only in its own mount namespace, as in a container.

The workload runs from a copy of python3.11 on a tmpfs mounted inside a private
mount namespace: the path the process maps does not exist on the host, so
gcpause must resolve it through /proc/PID/root to find and probe the markers.
"""

import os
import shlex

from conftest import PYTHON, Gcpause, Workload, check_no_losses, check_summary, check_window


def test_interpreter_only_in_another_mount_namespace(procs, tmp_path):
    mnt = tmp_path / "container-root"
    mnt.mkdir()
    binary = str(mnt / "python3.11")
    script = (f"mount -t tmpfs gcpause-test {shlex.quote(str(mnt))} && "
              f"cp {PYTHON} {shlex.quote(binary)} && exec {shlex.quote(binary)} \"$@\"")
    prefix = ("unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh")
    wl = Workload(procs, tmp_path, "--explicit", "--heap", "20000", "--rounds", "20",
                  prefix=prefix)
    wl.wait_ready()
    # The premise: from the host, the interpreter's path leads nowhere.
    assert not os.path.exists(binary), "the tmpfs leaked out of the namespace"

    gp = Gcpause(procs, ["-p", wl.pid])
    attach = gp.wait_attach(wl.pid)
    assert attach["binary"] == binary, attach
    wl.go()
    wl.wait_done()
    assert gp.stop() == 0, gp.err.snapshot()
    assert wl.finish() == 0
    gt = wl.result()
    window = check_window(gp.events(), gt)
    assert len(window) > 0
    total = gp.total()
    check_no_losses(total)
    check_summary(total, wl.pid, gp.events())
