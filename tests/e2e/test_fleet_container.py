# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""--all and serve: Python processes found on their own, in containers, labelled with their pod.

Containers are made here from their parts, without a container runtime or an API server, which
is all gcpause looks at too:

* the cgroup: a fake kubepods hierarchy is created in the host's cgroup v2 tree (systemd driver:
  kubepods.slice/.../kubepods-burstable-pod<uid>.slice/cri-containerd-<id>.scope) or in the
  memory controller's v1 tree (cgroupfs driver: kubepods/besteffort/pod<uid>/<id>), with a
  random pod UID and a random 64-hex container ID; the process is moved in by a shell that
  writes its own PID to cgroup.procs, before it execs the interpreter;
* the namespaces: unshare --pid --mount --uts, the interpreter chrooted into a debootstrapped
  Debian root (test_rootfs.py's, python3.13), so that its binary exists on the host only under
  that root and its PID inside is 1;
* the pod's own files, as the kubelet would provide them: /etc/hostname (the pod's name) and
  /run/secrets/kubernetes.io/serviceaccount/namespace (reached through the root's /var/run ->
  /run symlink), bind-mounted or written to a tmpfs inside the private mount namespace, so that
  nothing of the shared root on disk changes.

gcpause is always started before the processes it has to find: they are discovered from their
exec, and every check is against the workload's own gc.callbacks and gc.get_stats(), exactly.
Other Python processes run on this machine (other developers' tests, gcpause --all traces them
too): everything is selected by our own PIDs and our own random container IDs.
"""

import errno
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import time
import urllib.request
import uuid
from decimal import Decimal
from pathlib import Path

import pytest

from conftest import (ATTACH_TIMEOUT, GCPAUSE, PYTHON, WORKLOAD, Gcpause, LineReader, Workload,
                      check_summary, check_window, gen_counts, popen)
from test_rootfs import _built as _rootfs_built
from test_rootfs import build_rootfs

PROMTOOL = "/usr/bin/promtool"
# Where the kubelet mounts the pod's service account; the namespace is in its "namespace" file.
SERVICEACCOUNT = "run/secrets/kubernetes.io/serviceaccount"
# Any wait for something that takes milliseconds normally.
WAIT = 15
# Small workloads: every generation collected, a few hundred collections, well under a second.
WORKLOAD_ARGS = ("--explicit", "--heap", "20000", "--rounds", "20")


# --------------------------------------------------------------------------
# Fake containers
# --------------------------------------------------------------------------

def cgroup_mount(fstype, option=None):
    """Mount point of the cgroup2 tree, or of the v1 hierarchy holding controller `option`
    (/sys/fs/cgroup/unified and /sys/fs/cgroup/memory on this machine kind)."""
    with open("/proc/self/mounts") as f:
        for line in f:
            _, where, kind, opts = line.split()[:4]
            if kind == fstype and (option is None or option in opts.split(",")):
                return Path(where.replace("\\040", " "))
    return None


def random_pod():
    """(pod UID with dashes, 64-hex container ID): the IDs a kubelet and a runtime make."""
    return str(uuid.uuid4()), secrets.token_hex(32)


class FakeCgroup:
    """A chain of cgroup directories under a hierarchy's mount; the innermost one is new.

    Parent directories (kubepods.slice, ...) may be shared with another test run on this
    machine: they are created if missing and, at the end, removed only if created here and
    empty by then. The innermost one belongs to this test alone and must go.
    """

    def __init__(self, mount, rel):
        self.mount = Path(mount)
        self.rel = rel
        self.path = self.mount / rel
        self.created = []

    def create(self):
        deadline = time.monotonic() + WAIT
        parts = self.rel.split("/")
        while True:
            d = self.mount
            try:
                for part in parts[:-1]:
                    d = d / part
                    try:
                        d.mkdir()
                        self.created.append(d)
                    except FileExistsError:
                        pass
                self.path.mkdir()  # an existing leaf (same random ID) would be a fault
                self.created.append(self.path)
                return self
            except FileNotFoundError:
                # Another run removed a shared parent between two of our mkdirs: again.
                if time.monotonic() > deadline:
                    raise

    @property
    def procs_file(self):
        return self.path / "cgroup.procs"

    def pids(self):
        return [int(p) for p in self.procs_file.read_text().split()]

    def remove(self):
        deadline = time.monotonic() + WAIT
        if self.path in self.created:
            # Only processes of this test can be in the leaf; whatever survived goes now.
            while self.pids():
                if (self.path / "cgroup.kill").exists():
                    (self.path / "cgroup.kill").write_text("1")
                else:
                    for pid in self.pids():
                        try:
                            os.kill(pid, signal.SIGKILL)
                        except ProcessLookupError:
                            pass
                assert time.monotonic() < deadline, f"{self.path} keeps processes {self.pids()}"
                time.sleep(0.02)
        for d in reversed(self.created):
            while True:
                try:
                    d.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError as e:
                    if e.errno not in (errno.EBUSY, errno.ENOTEMPTY):
                        raise
                    if d != self.path and any(c.is_dir() for c in d.iterdir()):
                        break  # a shared parent another run still uses
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.02)  # a v1 cgroup goes offline a moment after its last task


@pytest.fixture
def fake_cgroup(procs):
    """make(mount, rel) -> FakeCgroup; at the end every process is killed, then the dirs go."""
    made = []

    def make(mount, rel):
        if mount is None:
            pytest.skip("no such cgroup hierarchy mounted here")
        cg = FakeCgroup(mount, rel)
        made.append(cg)
        return cg.create()

    try:
        yield make
    finally:
        # The processes (and their reaping) first: a cgroup cannot go while it holds one.
        procs.kill_all()
        errors = []
        for cg in reversed(made):
            try:
                cg.remove()
            except (OSError, AssertionError) as e:
                errors.append(f"{cg.path}: {e}")
        assert not errors, "cgroup cleanup failed: " + "; ".join(errors)


def systemd_v2_cgroup(make, qos, uid, prefix, cid):
    """kubepods.slice/[kubepods-QOS.slice/]kubepods[-QOS]-pod<uid_>.slice/PREFIX<id>.scope"""
    mount = cgroup_mount("cgroup2")
    slices = "kubepods.slice/"
    pod = f"kubepods-pod{uid.replace('-', '_')}.slice"
    if qos:
        slices += f"kubepods-{qos}.slice/"
        pod = f"kubepods-{qos}-pod{uid.replace('-', '_')}.slice"
    return make(mount, f"{slices}{pod}/{prefix}{cid}.scope")


def proc_cgroup(pid):
    return Path(f"/proc/{pid}/cgroup").read_text()


def wait_until(pred, timeout, what):
    deadline = time.monotonic() + timeout
    while True:
        value = pred()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"no {what} within {timeout} s")
        time.sleep(0.01)


class Barrier:
    """An idle python3.11 started once a gated chain's last exec before the gate is done.

    gcpause reads exec events in order from one ring buffer, so once it traces this process
    it has dealt with every earlier exec, those of the chain included. Opening the gate only
    then keeps the interpreter's own exec from arriving while an earlier exec event of the
    same process is still queued: gcpause mishandles that (see
    test_late_exec_event_keeps_one_attach), and these tests are about something else.
    -S: no site import, so no collection at startup (the attach follows the exec event).
    """

    def __init__(self, procs):
        self.proc = popen(procs, [PYTHON, "-S", "-c", "import sys; sys.stdin.read()"],
                          stdin=subprocess.PIPE)
        self.pid = self.proc.pid

    def end(self):
        self.proc.stdin.close()
        self.proc.wait(WAIT)


def dns_name(text, label_only):
    """What container.c keeps of a name file: the name if RFC 1123-valid, else ""."""
    name = text.strip(" \t\r\n")
    label = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"
    pattern = label if label_only else rf"{label}(\.{label})*"
    limit = 63 if label_only else 253
    return name if len(name) <= limit and re.fullmatch(pattern, name) else ""


def file_or_none(path):
    try:
        return Path(path).read_text()
    except OSError:
        return None


# Kubernetes' pod names: <deployment>-<replicaset hash>-<5 characters>.
def random_pod_name(deployment="shop-web"):
    return f"{deployment}-{secrets.token_hex(3)}-x2kq9"


# --------------------------------------------------------------------------
# The rootfs and the pod workload
# --------------------------------------------------------------------------

@pytest.fixture(scope="session")
def rootfs313():
    """Debian's python3.13 root, built once (shared with test_rootfs.py), before any watchdog."""
    if "3.13" not in _rootfs_built:
        try:
            _rootfs_built["3.13"] = build_rootfs("3.13")
        except pytest.skip.Exception as e:
            _rootfs_built["3.13"] = e
    if isinstance(_rootfs_built["3.13"], pytest.skip.Exception):
        pytest.skip(_rootfs_built["3.13"].msg)
    return _rootfs_built["3.13"]


class Primer:
    """An idle python3.13 chrooted into the root, started before gcpause: so gcpause probes
    that binary (one inode, whoever runs it) while it starts, and a process of it that comes
    later is traced from its first collection."""

    def __init__(self, procs, fs):
        code = "import sys; print('ready', flush=True); sys.stdin.read()"
        self.proc = popen(procs, ["chroot", fs.root, fs.python, "-c", code],
                          stdin=subprocess.PIPE)
        self.pid = self.proc.pid  # chroot execs the interpreter
        self.out = LineReader(self.proc.stdout, "primer stdout")
        self.out.wait_for(lambda l: l == "ready", WAIT, '"ready" from the primer')


class PodWorkload(Workload):
    """gc_workload.py as the process of a Kubernetes pod's container.

    The chain, all one cgroup from the first step:
      sh (host)        writes its PID to the fake cgroup's cgroup.procs, execs
      unshare          --pid --mount --uts --fork: its child is PID 1 of a new PID namespace
      sh (host, ns)    mounts, in the private mount namespace: a tmpfs over ROOT/run holding
                       the serviceaccount namespace file, a temp file over ROOT/etc/hostname,
                       a temp directory over ROOT/tmp (the workload and its ground truth);
                       sets the UTS hostname to the pod name; execs
      chroot ROOT      execs
      /bin/sh (root)   waits for a "gate" line on stdin, then execs
      python3.13       /tmp/gc_workload.py ...
    self.pid is that last process as the host sees it, known at the gate (before python runs).
    """

    def __init__(self, procs, fs, cgroup, work_dir, pod, namespace, *args):
        Workload.counter += 1
        self.fs = fs
        self.dir = Path(work_dir)
        self.dir.mkdir()
        shutil.copyfile(WORKLOAD, self.dir / "gc_workload.py")
        (self.dir / "hostname").write_text(pod + "\n")
        self.out_file = self.dir / "ground-truth.json"
        inner = r"""set -e
root=$1 dir=$2 ns=$3
shift 3
mount -t tmpfs gcpause-test-run "$root/run"
mkdir -p "$root/run/secrets/kubernetes.io/serviceaccount"
printf '%s' "$ns" > "$root/run/secrets/kubernetes.io/serviceaccount/namespace"
mount --bind "$dir/hostname" "$root/etc/hostname"
mount --bind "$dir" "$root/tmp"
hostname "$(cat "$dir/hostname")"
exec chroot "$root" /bin/sh -c 'read gate && exec "$@"' sh "$@"
"""
        cmd = ["sh", "-c", 'echo $$ > "$1" && shift && exec "$@"', "sh", cgroup.procs_file,
               "unshare", "--pid", "--mount", "--uts", "--propagation", "private", "--fork",
               "--kill-child", "sh", "-c", inner, "sh", fs.root, self.dir, namespace,
               fs.python, "/tmp/gc_workload.py", "--out", "/tmp/ground-truth.json", *args]
        self.proc = popen(procs, cmd, stdin=subprocess.PIPE)
        self.unshare_pid = self.proc.pid
        self.pid = None
        self.out = LineReader(self.proc.stdout, "pod workload stdout")
        self.err = LineReader(self.proc.stderr, "pod workload stderr")

    def wait_gate(self, timeout=WAIT):
        """The PID namespace's init, chrooted and waiting at the gate; returns its host PID."""
        def at_gate():
            assert self.proc.poll() is None, \
                f"pod chain exited {self.proc.returncode}: {self.err.snapshot()}"
            try:
                kids = Path(f"/proc/{self.unshare_pid}/task/{self.unshare_pid}/children")
                kids = kids.read_text().split()
                if len(kids) != 1:
                    return None
                pid = int(kids[0])
                exe = os.readlink(f"/proc/{pid}/exe")
                # chroot has exec'd the root's own shell, which waits at the gate.
                return pid if (os.readlink(f"/proc/{pid}/root") == str(self.fs.root) and
                               exe == str(self.fs.root / "usr" / "bin" / "dash")) else None
            except OSError:
                return None
        self.pid = wait_until(at_gate, timeout, "chrooted shell at the gate")
        return self.pid

    def open_gate(self):
        self.proc.stdin.write("gate\n")
        self.proc.stdin.flush()


def host_view(gt, host_pid):
    """The ground truth with the namespace's PID and TIDs replaced by the host's.

    The workload is PID 1 of its namespace and single-threaded: every collection ran on its
    main thread, whose TID is its PID, on either side.
    """
    assert gt["pid"] == 1 and gt["main_tid"] == 1, \
        f"not PID 1 of its own PID namespace: pid {gt['pid']}, tid {gt['main_tid']}"
    assert all(c["tid"] == gt["main_tid"] for c in gt["collections"])
    return dict(gt, pid=host_pid, main_tid=host_pid,
                collections=[dict(c, tid=host_pid) for c in gt["collections"]])


def since_start(gt):
    """Per generation, collections and collected+uncollectable since the interpreter started."""
    after = gt["stats_after"]
    return ([after[g]["collections"] for g in range(3)],
            [after[g]["collected"] + after[g]["uncollectable"] for g in range(3)])


def check_pod_namespaces(pid, fs, cgroup, pod, namespace):
    """The premises, on the host, of the container the test built for `pid`."""
    status = Path(f"/proc/{pid}/status").read_text()
    nspid = re.search(r"^NSpid:\s+(.*)$", status, re.M).group(1).split()
    assert nspid == [str(pid), "1"], f"NSpid {nspid}: not PID 1 of a child PID namespace"
    for ns in ("pid", "mnt", "uts"):
        assert os.readlink(f"/proc/{pid}/ns/{ns}") != os.readlink(f"/proc/self/ns/{ns}"), ns
    assert f"0::/{cgroup.rel}\n" in proc_cgroup(pid), proc_cgroup(pid)
    # Nothing the pod sees leaked onto the shared root on disk.
    assert (fs.root / "etc" / "hostname").read_text().strip() != pod
    assert not (fs.root / SERVICEACCOUNT).exists()
    assert not (fs.root / "tmp" / "gc_workload.py").exists()
    # ... and yet it is there for the pod, and for whoever looks through /proc/PID/root.
    assert Path(f"/proc/{pid}/root/etc/hostname").read_text().strip() == pod
    # (Not through the root's var/run -> /run: from here the kernel would resolve that
    # absolute link against the host's root; gcpause resolves it inside the root.)
    assert Path(f"/proc/{pid}/root/{SERVICEACCOUNT}/namespace").read_text() == namespace


def start_pod(procs, fs, fake_cgroup, tmp_path):
    """Starts a pod workload up to its gate; returns (workload, expected container record)."""
    uid, cid = random_pod()
    pod, namespace = random_pod_name(), "shop"
    cgroup = systemd_v2_cgroup(fake_cgroup, "burstable", uid, "cri-containerd-", cid)
    wl = PodWorkload(procs, fs, cgroup, tmp_path / "pod-tmp", pod, namespace,
                     *WORKLOAD_ARGS, "--wait", "--hard-exit")
    pid = wl.wait_gate()
    check_pod_namespaces(pid, fs, cgroup, pod, namespace)
    want = {"id": cid, "runtime": "containerd", "pod": pod, "pod_uid": uid,
            "namespace": namespace}
    return wl, want


def run_pod_workload(procs, wl, wait_traced):
    """Past the gate (once gcpause is past the chain's execs, see Barrier): python3.13 waits
    at "ready"; after "go" it runs the window, and after "exit" it leaves with os._exit (no
    shutdown collections)."""
    barrier = Barrier(procs)
    wait_traced(barrier.pid)
    barrier.end()
    wl.open_gate()
    wl.wait_ready()
    assert os.readlink(f"/proc/{wl.pid}/exe") == str(wl.fs.host_python)


# --------------------------------------------------------------------------
# 1. A pod's process, found from its exec, with its pod's labels
# --------------------------------------------------------------------------

def test_pod_process_found_at_exec_and_labelled(procs, fake_cgroup, rootfs313, tmp_path):
    """gcpause --all --json, then a pod's python3.13: attached from its exec with the pod's
    container record, probed through /proc/PID/root, every collection of its life seen."""
    fs = rootfs313
    primer = Primer(procs, fs)
    gp = Gcpause(procs, ["--all"])
    ready = gp.wait_record(lambda r: r["type"] == "ready", ATTACH_TIMEOUT, "ready line")
    # The /proc scan at start found the primer (so the root's python3.13 is probed).
    before_ready = gp.records()[:gp.records().index(ready)]
    primed = [r for r in before_ready if r["type"] == "attach" and r["pid"] == primer.pid]
    assert len(primed) == 1, f"primer {primer.pid} not attached before ready: {before_ready}"
    assert (primed[0]["binary"], primed[0]["root"]) == (fs.python, str(fs.root)), primed[0]

    wl, want = start_pod(procs, fs, fake_cgroup, tmp_path)
    run_pod_workload(procs, wl, gp.wait_attach)
    attach = gp.wait_attach(wl.pid)
    wl.go()
    wl.wait_done()
    assert wl.finish() == 0, f"pod workload stderr: {wl.err.snapshot()}"
    gp.wait_exit_line(wl.pid)
    assert gp.stop() == 0, f"gcpause stderr: {gp.err.snapshot()}"
    gt = host_view(wl.result(), wl.pid)
    assert gt["executable"] == fs.python and gt["version"].startswith("3.13."), gt

    # The collections: the window one to one with gc.callbacks, then everything since the
    # interpreter started (it was a candidate from its exec, the binary already probed).
    events = gp.events(wl.pid)
    window = check_window(events, gt)
    assert all(gen_counts(window)), f"not every generation collected: {gen_counts(window)}"
    total = gp.total()
    counts, collected = since_start(gt)
    assert gen_counts(events) == counts, (
        f"pid {wl.pid}: events per generation {gen_counts(events)} != gc.get_stats() since "
        f"the interpreter started {counts}; gcpause lost counters {total['lost']}")
    assert [sum(e["collected"] for e in events if e["gen"] == g) for g in range(3)] == collected

    # Who it is: the binary inside the root, and the pod, read from the cgroup and the root.
    identity = {"comm": "python3.13", "version": gt["version"], "binary": fs.python,
                "root": str(fs.root), "probe": "usdt", "container": want}
    recs = gp.records()
    attaches = [r for r in recs if r["type"] == "attach" and r["pid"] == wl.pid]
    assert attaches == [attach], f"pid {wl.pid} attached {len(attaches)} times: {attaches}"
    assert {k: attach.get(k) for k in identity} == identity, attach
    exits = [i for i, r in enumerate(recs) if r["type"] == "exit" and r["pid"] == wl.pid]
    last_gc = max(i for i, r in enumerate(recs) if r["type"] == "gc" and r["pid"] == wl.pid)
    assert len(exits) == 1 and exits[0] > last_gc, f"exit lines at {exits}, last gc at {last_gc}"
    assert "reason" not in recs[exits[0]], recs[exits[0]]

    proc = check_summary(total, wl.pid, events, exited=True)
    assert {k: proc.get(k) for k in identity} == identity, proc
    assert [g["count"] for g in proc["generations"]] == counts


# --------------------------------------------------------------------------
# 1b. The same pod through gcpause serve: the series carries the pod's labels
# --------------------------------------------------------------------------

_SAMPLE_RE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$')
_LABEL_RE = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(,|$)')


def parse_metrics(text):
    """[(name, {label: value}, value text)] of a text-format scrape; malformed lines fail."""
    samples = []
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = _SAMPLE_RE.match(line)
        assert m, f"unparsable sample line {line!r}"
        name, label_text, value = m.groups()
        labels, pos = {}, 0
        for lm in _LABEL_RE.finditer(label_text or ""):
            assert lm.start() == pos and lm.group(1) not in labels, f"bad labels in {line!r}"
            labels[lm.group(1)] = re.sub(r'\\(.)', lambda e: "\n" if e.group(1) == "n"
                                         else e.group(1), lm.group(2))
            pos = lm.end()
        assert pos == len(label_text or ""), f"bad labels in {line!r}"
        samples.append((name, labels, value))
    return samples


class Scraper:
    def __init__(self, port):
        self.base = f"http://127.0.0.1:{port}"
        # Straight to loopback, whatever proxy the environment names.
        self.opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    def get(self, path):
        with self.opener.open(self.base + path, timeout=10) as r:
            return r.status, r.read().decode()

    def scrape(self):
        status, text = self.get("/metrics")
        assert status == 200, status
        return text, parse_metrics(text)


def ours(samples, container_id):
    """{(name, own labels): value} of the series with this container_id, and its label sets."""
    own_keys = ("generation", "le")
    values, label_sets = {}, set()
    for name, labels, value in samples:
        if labels.get("container_id") != container_id:
            continue
        own = tuple(sorted((k, v) for k, v in labels.items() if k in own_keys))
        assert (name, own) not in values, f"sample {name}{own} twice"
        values[(name, own)] = value
        label_sets.add(tuple(sorted((k, v) for k, v in labels.items() if k not in own_keys)))
    return values, label_sets


def gen_key(name, gen, le=None):
    own = [("generation", str(gen))] + ([("le", le)] if le else [])
    return (name, tuple(sorted(own)))


def test_pod_process_served_with_pod_labels(procs, fake_cgroup, rootfs313, tmp_path):
    """gcpause serve, then the same kind of pod: one series with the pod's labels, live while
    the process runs, whose counters equal gc.get_stats() once it has exited."""
    fs = rootfs313
    Primer(procs, fs)
    gp = popen(procs, [GCPAUSE, "serve", "--listen", "127.0.0.1:0"])
    gp_out = LineReader(gp.stdout, "serve stdout")
    gp_err = LineReader(gp.stderr, "serve stderr")
    line = gp_err.wait_for(lambda l: "serving /metrics and /healthz on 127.0.0.1:0 (port " in l,
                           ATTACH_TIMEOUT, "the serving line")
    scraper = Scraper(int(re.search(r"\(port (\d+)\)", line).group(1)))
    gp_err.wait_for(lambda l: l.endswith("Ctrl-C to stop"), ATTACH_TIMEOUT, "the ready line")
    assert scraper.get("/healthz")[0] == 200

    wl, want = start_pod(procs, fs, fake_cgroup, tmp_path)
    container_id = f"containerd://{want['id']}"

    def traced(pid):
        gp_err.wait_for(lambda l: l.startswith(f"gcpause: tracing pid {pid} ("), WAIT,
                        f"the tracing line of pid {pid}")
    run_pod_workload(procs, wl, traced)

    def live(n):
        def check():
            text, samples = scraper.scrape()
            values, _ = ours(samples, container_id)
            return (text, samples) if values.get(("gcpause_python_processes", ())) == str(n) \
                else None
        return check
    wait_until(live(1), WAIT, f"series of {container_id} with one live process")
    gp_err.wait_for(lambda l: l.startswith(f"gcpause: tracing pid {wl.pid} (python3.13, ")
                    and l.endswith(f" in container {want['id']}"), WAIT,
                    f"the tracing line of pid {wl.pid}")
    wl.go()
    wl.wait_done()
    assert wl.finish() == 0, f"pod workload stderr: {wl.err.snapshot()}"
    # Gone from the series' live count once gcpause saw it exit; each scrape reads the ring
    # buffers first, so that scrape has all its collections.
    text, samples = wait_until(live(0), WAIT, f"series of {container_id} without its process")
    gt = host_view(wl.result(), wl.pid)
    counts, collected = since_start(gt)

    values, label_sets = ours(samples, container_id)
    assert label_sets == {tuple(sorted({
        "namespace": want["namespace"], "pod": want["pod"], "pod_uid": want["pod_uid"],
        "container_id": container_id, "command": "python3.13", "program": "gc_workload.py",
        "python_version": gt["version"]}.items()))}, label_sets
    got = {
        "collections": [int(values[gen_key("gcpause_gc_collections_total", g)])
                        for g in range(3)],
        "pause_count": [int(values[gen_key("gcpause_gc_pause_seconds_count", g)])
                        for g in range(3)],
        "+Inf bucket": [int(values[gen_key("gcpause_gc_pause_seconds_bucket", g, "+Inf")])
                        for g in range(3)],
        "collected": [int(values[gen_key("gcpause_gc_collected_objects_total", g)])
                      for g in range(3)],
    }
    assert got == {"collections": counts, "pause_count": counts, "+Inf bucket": counts,
                   "collected": collected}, f"gc.get_stats() since start: {counts}, {collected}"
    for g in range(3):
        assert Decimal(values[gen_key("gcpause_gc_pause_seconds_sum", g)]) == \
            Decimal(values[gen_key("gcpause_gc_pause_time_seconds_total", g)]) > 0
    assert not any(own == (("generation", "other"),) for _, own in values), values.keys()
    if os.access(PROMTOOL, os.X_OK):
        r = subprocess.run([PROMTOOL, "check", "metrics"], input=text, capture_output=True,
                           text=True, timeout=30)
        assert r.returncode == 0, f"promtool check metrics: {r.stdout}{r.stderr}"

    gp.send_signal(signal.SIGINT)
    assert gp.wait(WAIT) == 0, gp_err.snapshot()
    assert gp_out.join() and gp_out.snapshot() == [], "serve printed a report on stdout"


# --------------------------------------------------------------------------
# 2. cgroup v1, cgroupfs driver, a host process
# --------------------------------------------------------------------------

def gated(cgroup):
    """A prefix that moves the process into `cgroup`, waits for a line, then execs the rest."""
    return ("sh", "-c", 'echo $$ > "$1" && read gate && shift && exec "$@"', "sh",
            cgroup.procs_file)


def open_gate(wl):
    wl.proc.stdin.write("gate\n")
    wl.proc.stdin.flush()


def test_cgroup_v1_cgroupfs_driver(procs, fake_cgroup, tmp_path):
    """A host python3.11 moved into a v1 memory cgroup named as the cgroupfs driver names a
    BestEffort pod's container: the ID and pod UID from that line (the unified one says
    nothing), no runtime; ground truth matched."""
    uid, cid = random_pod()
    cgroup = fake_cgroup(cgroup_mount("cgroup", "memory"), f"kubepods/besteffort/pod{uid}/{cid}")
    gp = Gcpause(procs, ["--all"])
    gp.wait_record(lambda r: r["type"] == "ready", ATTACH_TIMEOUT, "ready line")
    wl = Workload(procs, tmp_path, *WORKLOAD_ARGS, prefix=gated(cgroup) + (PYTHON,))
    wait_until(lambda: wl.pid in cgroup.pids(), WAIT, f"pid {wl.pid} in {cgroup.path}")
    barrier = Barrier(procs)
    gp.wait_attach(barrier.pid)
    barrier.end()
    open_gate(wl)
    wl.wait_ready()
    cg_text = proc_cgroup(wl.pid)
    assert re.search(rf"^\d+:memory:/kubepods/besteffort/pod{uid}/{cid}$", cg_text, re.M), cg_text
    assert "kubepods" not in re.search(r"^0::(.*)$", cg_text, re.M).group(1), cg_text

    # cgroupfs names the container by its bare ID: no runtime to tell. A pod UID was found, so
    # the pod's name is the hostname in the process's root, here the host's own /etc/hostname,
    # and there is no serviceaccount namespace file on the host.
    want = {"id": cid, "runtime": "", "pod_uid": uid,
            "pod": dns_name(file_or_none("/etc/hostname") or "", label_only=False),
            "namespace": dns_name(file_or_none(f"/var/{SERVICEACCOUNT}/namespace")
                                  or file_or_none(f"/{SERVICEACCOUNT}/namespace") or "",
                                  label_only=True)}
    attach = gp.wait_attach(wl.pid)
    # gcpause list tells the same.
    listed = subprocess.run([GCPAUSE, "list", "--json", "-p", str(wl.pid)], capture_output=True,
                            text=True, timeout=30)
    assert listed.returncode == 0, listed.stderr
    assert json.loads(listed.stdout)["container"] == want, listed.stdout
    wl.go()
    wl.wait_done()
    assert wl.finish() == 0
    gp.wait_exit_line(wl.pid)
    assert gp.stop() == 0, gp.err.snapshot()
    gt = wl.result()
    check_window(gp.events(), gt)

    assert attach["container"] == want, attach
    assert (attach["binary"], attach["root"]) == (PYTHON, "/"), attach
    proc = check_summary(gp.total(), wl.pid, gp.events(), exited=True)
    assert proc["container"] == want, proc


# --------------------------------------------------------------------------
# 3. --container, --exclude, --comm
# --------------------------------------------------------------------------

def own_container_id():
    """Whether this test itself runs in a container (then no process here is outside one)."""
    return re.search(r"(?:^|[/-])[0-9a-f]{64}(?:\.scope)?$", proc_cgroup("self"), re.M)


def test_filters_select_by_container_pod_and_comm(procs, fake_cgroup, tmp_path):
    """Five gcpause --all at once, each with a filter, then three processes:
    A in a fake CRI-O container of a Guaranteed pod (own mount namespace, for its hostname and
    serviceaccount files), B a plain python3.11, S python3.11 started through a symlink (its
    comm is the symlink's name). Each gcpause must trace exactly its share, all of each."""
    uid, cid = random_pod()
    pod, namespace = random_pod_name(), "shop"
    deployment_glob = pod.rsplit("-", 1)[0] + "-*"
    comm = f"gcps{secrets.token_hex(4)}"
    symlink = tmp_path / comm
    symlink.symlink_to(PYTHON)
    (tmp_path / "hostname").write_text(pod + "\n")
    cgroup = systemd_v2_cgroup(fake_cgroup, None, uid, "crio-", cid)

    filters = {
        "--container ID[:12]": (["--container", cid[:12]], {"A"}),
        "--container NS/POD": (["--container", f"{namespace}/{deployment_glob}"], {"A"}),
        "--container -": (["--container", "-"], {"B", "S"}),
        "--exclude POD": (["--exclude", deployment_glob], {"B", "S"}),
        "--comm": (["--comm", comm], {"S"}),
    }
    if own_container_id():
        del filters["--container -"]  # B and S would be in this test's own container
    gps = {name: Gcpause(procs, ["--all"] + args) for name, (args, _) in filters.items()}
    for name, gp in gps.items():
        gp.wait_record(lambda r: r["type"] == "ready", ATTACH_TIMEOUT, f"ready line ({name})")

    # A: its cgroup first, then its own mount namespace with the pod's files, then the gate.
    inner = r"""set -e
mount --bind "$1" /etc/hostname
mount -t tmpfs gcpause-test-run /run
mkdir -p /run/secrets/kubernetes.io/serviceaccount
printf '%s' "$2" > /run/secrets/kubernetes.io/serviceaccount/namespace
shift 2
read gate
exec "$@"
"""
    a_prefix = ("sh", "-c", 'echo $$ > "$1" && shift && exec "$@"', "sh", cgroup.procs_file,
                "unshare", "--mount", "--propagation", "private", "sh", "-c", inner, "sh",
                tmp_path / "hostname", namespace, PYTHON)
    wls = {"A": Workload(procs, tmp_path, *WORKLOAD_ARGS, prefix=a_prefix)}
    a_pid = wls["A"].pid
    dash = os.path.realpath("/bin/sh")

    def a_at_gate():
        # In its cgroup, its own mount namespace, and the shell there has exec'd.
        try:
            return (a_pid in cgroup.pids() and os.readlink(f"/proc/{a_pid}/exe") == dash and
                    os.readlink(f"/proc/{a_pid}/ns/mnt") != os.readlink("/proc/self/ns/mnt"))
        except OSError:
            return False
    wait_until(a_at_gate, WAIT, f"A (pid {a_pid}) at its gate")
    # B and S exec after every exec of A's chain; A's gate opens once they are traced (and
    # so those exec events dealt with, see Barrier) by the gcpause that trace them, and a
    # hundred milliseconds or more later than that for the two that trace A alone.
    wls["B"] = Workload(procs, tmp_path, *WORKLOAD_ARGS)
    wls["S"] = Workload(procs, tmp_path, *WORKLOAD_ARGS, prefix=(symlink,))
    for who in "BS":
        wls[who].wait_ready()
        for name, gp in gps.items():
            if who in filters[name][1]:
                gp.wait_attach(wls[who].pid)
    open_gate(wls["A"])
    wls["A"].wait_ready()
    assert Path(f"/proc/{wls['A'].pid}/root/etc/hostname").read_text() == pod + "\n"
    assert Path(f"/proc/{wls['S'].pid}/comm").read_text().strip() == comm
    containers = {
        "A": {"id": cid, "runtime": "cri-o", "pod": pod, "pod_uid": uid, "namespace": namespace},
        "B": None, "S": None}
    comms = {"A": "python3.11", "B": "python3.11", "S": comm}

    # Each gcpause attached what it selects before any window starts...
    for name, gp in gps.items():
        for who in filters[name][1]:
            attach = gp.wait_attach(wls[who].pid)
            assert attach["comm"] == comms[who], f"{name}: {who}: {attach}"
            if who == "A" or not own_container_id():
                assert attach.get("container") == containers[who], f"{name}: {who}: {attach}"
    # ... then all three collect, and exit.
    for wl in wls.values():
        wl.go()
    for wl in wls.values():
        wl.wait_done()
    for wl in wls.values():
        assert wl.finish() == 0, wl.err.snapshot()
    gts = {who: wl.result() for who, wl in wls.items()}

    problems = []
    for name, gp in gps.items():
        traced = filters[name][1]
        for who in traced:
            gp.wait_exit_line(wls[who].pid)
        # Stopping drains the ring buffer: a collection of a process the filter should have
        # left out would be decided about (and reported) now at the latest.
        assert gp.stop() == 0, f"{name}: {gp.err.snapshot()}"
        recs = gp.records()
        summary = gp.total()
        for who, wl in wls.items():
            mine = [r for r in recs if r.get("pid") == wl.pid]
            in_summary = [p for p in summary["processes"] if p["pid"] == wl.pid]
            if who not in traced:
                if mine or in_summary:
                    problems.append(f"{name}: {who} (pid {wl.pid}) traced: {mine[:3]}")
                continue
            attaches = [r for r in mine if r["type"] == "attach"]
            if len(attaches) != 1:
                problems.append(f"{name}: {who} attached {len(attaches)} times")
            try:
                window = check_window(gp.events(), gts[who])
                assert all(gen_counts(window)), gen_counts(window)
                check_summary(summary, wl.pid, gp.events(), exited=True)
            except AssertionError as e:
                problems.append(f"{name}: {who}: {e}")
    assert not problems, "\n".join(problems)


# --------------------------------------------------------------------------
# Exec events read late
# --------------------------------------------------------------------------

def test_late_exec_event_keeps_one_attach(procs, tmp_path):
    """sh execs python3.11 while gcpause is stopped (SIGSTOP), so both exec events are
    queued when it resumes; the process is one incarnation running one program throughout
    gcpause's look at it, and must be traced once."""
    comm = f"gcpx{secrets.token_hex(4)}"
    symlink = tmp_path / comm
    symlink.symlink_to(PYTHON)
    gp = Gcpause(procs, ["--all", "--comm", comm])
    gp.wait_record(lambda r: r["type"] == "ready", ATTACH_TIMEOUT, "ready line")
    os.kill(gp.pid, signal.SIGSTOP)
    try:
        wl = Workload(procs, tmp_path, *WORKLOAD_ARGS, prefix=("sh", "-c", 'exec "$@"', "sh",
                                                               symlink))
        wl.wait_ready()  # the sh is long gone: python3.11 printed "ready"
    finally:
        os.kill(gp.pid, signal.SIGCONT)
    gp.wait_attach(wl.pid)
    wl.go()
    wl.wait_done()
    assert wl.finish() == 0
    gp.wait_exit_line(wl.pid)
    assert gp.stop() == 0, gp.err.snapshot()
    check_window(gp.events(), wl.result())
    recs = [r for r in gp.records() if r.get("pid") == wl.pid and r["type"] in ("attach", "exit")]
    # An exec from before the program was looked at does not end its tracing (this once
    # gave attach, exit "replaced its program (exec)", attach, exit).
    assert [r["type"] for r in recs] == ["attach", "exit"], recs
    assert "reason" not in recs[-1], recs[-1]
    summary_procs = [p for p in gp.total()["processes"] if p["pid"] == wl.pid]
    assert len(summary_procs) == 1, summary_procs
