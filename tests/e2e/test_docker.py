# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""The image, built by Docker and run the way the DaemonSet runs it, against real containers.

Docker is Debian's (docker.io: dockerd, containerd, runc); the tests start `dockerd
--iptables=false` when no engine answers and stop it at the end. No registry is reachable:
the Dockerfile's bases, debian:bookworm and debian:bookworm-slim, are a debootstrapped Debian 12
root imported locally (scripts/make-rootfs.sh, scripts/docker-import-rootfs.sh); the target
Pythons' images are Debian 12's python3.11 installed by apt on that base, and trixie's
python3.13 (test_rootfs.py's debootstrapped root, imported), both with the USDT markers. The repository's Dockerfile is built unmodified (`docker build --network host`:
without iptables the default bridge has no way out); Docker's layer cache and the images'
labels make a second run with unchanged inputs reuse everything.

The agent container is started with the flags scripts/daemonset-to-docker.py derives from
deploy/kubernetes/daemonset.yaml (host PID namespace, the manifest's capabilities and no other,
its user, read-only root, seccomp/AppArmor, limits, arguments), its port published on a random
127.x.y.z standing in for the pod IP. Every count is checked exactly against the traced
interpreter's own gc.get_stats(). Figures (image size, build time, start-up, RSS) are written
to build/docker-figures.json for docs/deploy.md.
"""

import json
import os
import random
import re
import secrets
import shutil
import signal
import subprocess
import time
import uuid
from pathlib import Path

import pytest
import yaml

from conftest import BUILD, GCPAUSE, PYTHON, REPO, WORKLOAD, LineReader, stats_deltas
from prom import Prometheus, Scrape, fetch, wait_until
from test_deploy import (apt_install_packages, closure, documented_scrape_config,
                         dockerfile_stages, runtime_install)
from test_fleet_container import host_view, since_start
from test_rootfs import _built as _rootfs_built
from test_rootfs import build_rootfs

DEPLOY = REPO / "deploy" / "kubernetes"
DAEMONSET = DEPLOY / "daemonset.yaml"
PRIVILEGED = DEPLOY / "daemonset-privileged.yaml"
TO_DOCKER = REPO / "scripts" / "daemonset-to-docker.py"
IMPORT_ROOTFS = REPO / "scripts" / "docker-import-rootfs.sh"
MAKE_ROOTFS = REPO / "scripts" / "make-rootfs.sh"
FIGURES_FILE = BUILD / "docker-figures.json"
DOCKERD_LOG = BUILD / "dockerd.log"

IMAGE = "gcpause-test/gcpause:latest"
PY_IMAGES = {"3.11": "gcpause-test/python:3.11", "3.13": "gcpause-test/python:3.13"}
# Every container started here carries it: a crashed run's leftovers are removed by it.
TEST_LABEL = "org.gcpause.test=test_docker"
# Bounds: a first build downloads the build stage's packages (a few minutes); later ones hit
# the cache. Waits for things that take milliseconds normally are WAIT.
BUILD_TIMEOUT = 1500
ROOTFS_TIMEOUT = 1000
WAIT = 45
WORKLOAD_ARGS = ("--explicit", "--heap", "20000", "--rounds", "20")
SERVICEACCOUNT = "/run/secrets/kubernetes.io/serviceaccount"

FIGURES = {}
# The agent runs under the manifest's CPU limit (half a core): on a loaded machine its start
# (BTF, the first look through /proc) takes far longer than the usual. Each test here gets
# this much time instead of conftest's TEST_TIMEOUT.
DOCKER_TEST_TIMEOUT = 300
HEALTHY_TIMEOUT = 120


@pytest.fixture(autouse=True)
def longer_watchdog(watchdog):
    """conftest's watchdog, with a longer alarm (its teardown still clears it)."""
    signal.alarm(DOCKER_TEST_TIMEOUT)
    yield


# --------------------------------------------------------------------------
# Docker
# --------------------------------------------------------------------------

def docker_client():
    # Debian's client (docker.io) first: it matches the engine; any other on PATH otherwise.
    for path in ("/usr/bin/docker", shutil.which("docker")):
        if path and os.access(path, os.X_OK):
            return path
    return None


DOCKER = docker_client()


def docker(*args, timeout=120, check=True, input=None):
    r = subprocess.run([DOCKER, *args], capture_output=True, text=True, timeout=timeout,
                       input=input, stdin=None if input is not None else subprocess.DEVNULL)
    if check and r.returncode != 0:
        raise AssertionError(f"docker {' '.join(args[:3])}...: exit {r.returncode}: "
                             f"{r.stderr.strip()[-2000:]}")
    return r


def engine_version():
    try:
        r = subprocess.run([DOCKER, "version", "--format", "{{.Server.Version}}"],
                           capture_output=True, text=True, timeout=20,
                           stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        return None
    return r.stdout.strip() if r.returncode == 0 else None


def remove_test_containers():
    ids = docker("ps", "-aq", "--filter", f"label={TEST_LABEL}", check=False).stdout.split()
    if ids:
        docker("rm", "-f", *ids, check=False, timeout=120)


@pytest.fixture(scope="module")
def engine():
    """A Docker engine: the one running, or `dockerd --iptables=false` started (and stopped)
    here. Skips only when there is no Docker or it cannot start."""
    if os.geteuid() != 0:
        pytest.skip("needs root")
    if DOCKER is None or shutil.which("dockerd") is None:
        pytest.skip("Docker is not installed (scripts/install-deps.sh installs docker.io)")
    started = None
    version = engine_version()
    if version is None:
        BUILD.mkdir(exist_ok=True)
        log = open(DOCKERD_LOG, "w")
        # No iptables: this VM's dockerd cannot program them, and nothing here needs NAT.
        started = subprocess.Popen(["dockerd", "--iptables=false"], stdin=subprocess.DEVNULL,
                                   stdout=log, stderr=subprocess.STDOUT,
                                   start_new_session=True)
        deadline = time.monotonic() + 60
        while version is None and started.poll() is None and time.monotonic() < deadline:
            time.sleep(0.5)
            version = engine_version()
        if version is None:
            started.kill()
            started.wait(30)
            tail = [l for l in DOCKERD_LOG.read_text(errors="replace").splitlines() if l]
            pytest.skip(f"dockerd cannot start here: {tail[-1] if tail else '(no output)'}")
    FIGURES["docker_version"] = version
    remove_test_containers()
    yield version
    remove_test_containers()
    if started is not None:
        started.send_signal(signal.SIGTERM)
        try:
            started.wait(60)
        except subprocess.TimeoutExpired:
            started.kill()
            started.wait(30)
    if FIGURES:
        FIGURES_FILE.write_text(json.dumps(FIGURES, indent=1, sort_keys=True) + "\n")


def make_rootfs(suite, name, *packages):
    root = (BUILD / "rootfs").resolve() / name
    try:
        r = subprocess.run([str(MAKE_ROOTFS), suite, str(root), *packages],
                           stdin=subprocess.DEVNULL, capture_output=True, text=True,
                           timeout=ROOTFS_TIMEOUT, cwd=REPO)
    except subprocess.TimeoutExpired:
        pytest.skip(f"make-rootfs.sh {suite} did not finish in {ROOTFS_TIMEOUT} s")
    if r.returncode == 77:
        pytest.skip(r.stderr.strip() or r.stdout.strip())
    assert r.returncode == 0, f"make-rootfs.sh {suite} {root}: {r.stdout}{r.stderr}"
    return root


def import_rootfs(root, tag, *options):
    r = subprocess.run([str(IMPORT_ROOTFS), *options, str(root), tag], capture_output=True,
                       text=True, timeout=600, stdin=subprocess.DEVNULL,
                       env=dict(os.environ, DOCKER=DOCKER))
    assert r.returncode == 0, f"docker-import-rootfs.sh {root} {tag}: {r.stdout}{r.stderr}"


@pytest.fixture(scope="module")
def bases(engine):
    """debian:bookworm and debian:bookworm-slim, from a debootstrapped Debian 12 root."""
    root = make_rootfs("bookworm", "bookworm-base")
    import_rootfs(root, "debian:bookworm", "--debian-sources")
    import_rootfs(root, "debian:bookworm-slim", "--slim", "--debian-sources")
    return root


@pytest.fixture(scope="module")
def image(bases):
    """The repository's Dockerfile, unmodified, built on those bases."""
    start = time.monotonic()
    r = subprocess.run([DOCKER, "build", "--network", "host", "-t", IMAGE, str(REPO)],
                       capture_output=True, text=True, timeout=BUILD_TIMEOUT,
                       stdin=subprocess.DEVNULL)
    elapsed = time.monotonic() - start
    assert r.returncode == 0, f"docker build: exit {r.returncode}\n{r.stdout[-4000:]}{r.stderr}"
    steps = len(re.findall(r"^Step \d+/\d+ :", r.stdout, re.M))
    cached = r.stdout.count("Using cache")
    FIGURES["build_seconds"] = round(elapsed, 1)
    FIGURES["build_steps_cached"] = f"{cached}/{steps}"
    FIGURES["image_bytes"] = int(docker("image", "inspect", "-f", "{{.Size}}", IMAGE)
                                 .stdout.strip())
    FIGURES["base_slim_bytes"] = int(docker("image", "inspect", "-f", "{{.Size}}",
                                            "debian:bookworm-slim").stdout.strip())
    return IMAGE


PY311_DOCKERFILE = """\
FROM debian:bookworm
RUN apt-get update \\
	&& apt-get install -y --no-install-recommends python3.11 \\
	&& rm -rf /var/lib/apt/lists/*
"""


@pytest.fixture(scope="module")
def py_images(bases):
    """Python target images: Debian 12's python3.11 (on the imported debian:bookworm) and
    trixie's python3.13 (test_rootfs.py's debootstrapped root, imported); both with markers."""
    # Debian 12's own python3.11, installed the way an application's Dockerfile would.
    r = subprocess.run([DOCKER, "build", "--network", "host", "-t", PY_IMAGES["3.11"], "-"],
                       input=PY311_DOCKERFILE, capture_output=True, text=True,
                       timeout=BUILD_TIMEOUT)
    assert r.returncode == 0, f"docker build of {PY_IMAGES['3.11']}: {r.stdout[-2000:]}{r.stderr}"
    if "3.13" not in _rootfs_built:
        try:
            _rootfs_built["3.13"] = build_rootfs("3.13")
        except pytest.skip.Exception as e:
            _rootfs_built["3.13"] = e
    if isinstance(_rootfs_built["3.13"], pytest.skip.Exception):
        pytest.skip(_rootfs_built["3.13"].msg)
    import_rootfs(_rootfs_built["3.13"].root, PY_IMAGES["3.13"])
    return PY_IMAGES


# --------------------------------------------------------------------------
# The agent, as the DaemonSet runs it
# --------------------------------------------------------------------------

def translate(manifest, address):
    r = subprocess.run([str(TO_DOCKER), "--json", "--image", IMAGE, "--publish-address",
                        address, str(manifest)], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, f"daemonset-to-docker.py {manifest}: {r.stderr}"
    return json.loads(r.stdout)


def pod_address():
    """A loopback address standing in for the pod IP (all of 127/8 is local)."""
    return f"127.{random.randint(16, 250)}.{random.randint(1, 250)}.{random.randint(2, 250)}"


def manifest_container(manifest):
    with open(manifest) as f:
        ds = next(d for d in yaml.safe_load_all(f) if d and d.get("kind") == "DaemonSet")
    return ds["spec"]["template"]["spec"]["containers"][0]


class Agent:
    """The gcpause container: `docker run -d` with the translated flags, its log followed."""

    def __init__(self, name, spec, flags=None, args=None):
        self.name = name
        self.spec = spec
        self.address = None
        for i, f in enumerate(spec["flags"]):
            if f == "--publish":
                self.address = spec["flags"][i + 1].split(":")[0]
        self.port = spec["probes"]["readinessProbe"]["port"]
        self.health_path = spec["probes"]["readinessProbe"]["path"]
        self.flags = spec["flags"] if flags is None else flags
        self.args = spec["args"] if args is None else args
        self.logs = None
        self.log_proc = None

    def start(self):
        docker("rm", "-f", self.name, check=False)
        t0 = time.monotonic()
        r = docker("run", "-d", "--name", self.name, "--label", TEST_LABEL, *self.flags,
                   self.spec["image"], *self.args, check=False)
        self.run_result = r
        if r.returncode != 0:
            return r
        self.id = r.stdout.strip()
        self.follow()
        return r, t0

    def follow(self):
        self.stop_following()
        # The agent writes to stderr; `docker logs` relays it on its own stderr.
        self.log_proc = subprocess.Popen([DOCKER, "logs", "-f", self.name],
                                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                         stderr=subprocess.PIPE, text=True)
        self.logs = LineReader(self.log_proc.stderr, f"docker logs {self.name}")

    def stop_following(self):
        if self.log_proc is not None:
            self.log_proc.kill()
            self.log_proc.wait(10)
            self.log_proc = None

    @property
    def url(self):
        return f"http://{self.address}:{self.port}"

    def healthy(self):
        try:
            return fetch(self.url + self.health_path, timeout=2)[0] == 200
        except OSError:
            return False

    def wait_healthy(self, timeout=HEALTHY_TIMEOUT):
        def ok():
            state = self.inspect()["State"]
            assert state["Running"], f"agent exited {state['ExitCode']}: {self.log_tail()}"
            return self.healthy()
        wait_until(ok, timeout, f"{self.name} /healthz", interval=0.05)

    def inspect(self):
        return json.loads(docker("inspect", self.name).stdout)[0]

    def pid(self):
        return self.inspect()["State"]["Pid"]

    def log_tail(self):
        r = docker("logs", "--tail", "20", self.name, check=False)
        return (r.stdout + r.stderr).strip()

    def scrape(self):
        status, _, body = fetch(self.url + "/metrics", timeout=10)
        assert status == 200, status
        return Scrape(body)

    def wait_traced(self, pid, timeout=WAIT):
        return self.logs.wait_for(lambda l: l.startswith(f"gcpause: tracing pid {pid} ("),
                                  timeout, f"the agent's tracing line for pid {pid}")

    def remove(self):
        self.stop_following()
        docker("rm", "-f", self.name, check=False)


# What docs/deploy.md says to do on a runtime that does not know these capability names
# (Docker before 23, whose list predates Linux 5.8): remove them, SYS_ADMIN covers both.
NEWER_CAPS = {"BPF", "PERFMON"}


def without_caps(flags, names):
    out = []
    for i, f in enumerate(flags):
        if f in names and i and flags[i - 1] == "--cap-add":
            out.pop()
            continue
        out.append(f)
    return out


def start_agent(name, manifest=DAEMONSET, flags_edit=None, extra_args=()):
    """The agent container, started and healthy. If the engine refuses capability names it
    does not know, and they are the ones docs/deploy.md names for that case, they are taken
    out as documented (agent.refused says which)."""
    spec = translate(manifest, pod_address())
    flags = spec["flags"] if flags_edit is None else flags_edit(list(spec["flags"]))
    agent = Agent(name, spec, flags, list(spec["args"]) + list(extra_args))
    agent.refused = []
    r = agent.start()
    unknown = re.search(r'unknown capability: "CAP_(\w+)"', r.stderr) \
        if isinstance(r, subprocess.CompletedProcess) else None
    if unknown:
        docker("rm", "-f", name, check=False)
        add = [flags[i + 1] for i, f in enumerate(flags) if f == "--cap-add"]
        refused = sorted(NEWER_CAPS & set(add))
        assert unknown.group(1) in refused and "SYS_ADMIN" in add, \
            f"{name}: the engine refuses CAP_{unknown.group(1)}, not a case docs/deploy.md covers"
        agent.flags = without_caps(flags, set(refused))
        agent.refused = refused
        FIGURES["docker_refused_caps"] = f"{r.stderr.strip().splitlines()[0]} (removed: {refused})"
        r = agent.start()
    assert not isinstance(r, subprocess.CompletedProcess), \
        f"docker run of {name}: exit {r.returncode}: {r.stderr.strip()}"
    t0 = r[1]
    agent.wait_healthy()
    agent.startup_seconds = time.monotonic() - t0
    agent.logs.wait_for(lambda l: l.endswith("Ctrl-C to stop"), WAIT, "the ready line")
    return agent


@pytest.fixture(scope="module")
def agent(image):
    a = start_agent("gcpause-test-agent")
    FIGURES["agent_startup_seconds"] = round(a.startup_seconds, 2)
    yield a
    a.remove()


# --------------------------------------------------------------------------
# Targets
# --------------------------------------------------------------------------

def python_cmd(version, comm=None):
    """The image's python3.X, or the same run through a symlink named `comm` (made in the
    container's own writable layer), so that the process has a command name of its own."""
    exe = f"/usr/bin/python{version}"
    if comm is None:
        return [exe]
    return ["sh", "-c", f'ln -s {exe} /{comm} && exec /{comm} "$@"', "sh"]


class ContainerWorkload:
    """gc_workload.py as PID 1 of a Docker container of a Python image, driven through
    `docker run -i` (ready/go/done/exit on its stdin and stdout); the ground truth is written
    to a bind-mounted host directory."""

    def __init__(self, image, version, work_dir, name=None, extra=(), args=WORKLOAD_ARGS,
                 comm=None):
        self.dir = Path(work_dir)
        self.dir.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(WORKLOAD, self.dir / "gc_workload.py")
        self.out_file = self.dir / "ground-truth.json"
        self.out_file.unlink(missing_ok=True)
        self.name = name or f"gcpause-test-py-{secrets.token_hex(4)}"
        cmd = [DOCKER, "run", "-i", "--rm", "--name", self.name, "--label", TEST_LABEL,
               "--network", "none", "-v", f"{self.dir}:/gt", *extra, image,
               *python_cmd(version, comm), "/gt/gc_workload.py", "--out", "/gt/ground-truth.json",
               *args, "--wait", "--hard-exit"]
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)
        self.out = LineReader(self.proc.stdout, f"{self.name} stdout")
        self.err = LineReader(self.proc.stderr, f"{self.name} stderr")
        self.id = None
        self.pid = None

    def wait_started(self):
        """The container's ID and its PID 1 as the host sees it, once python3.X runs."""
        def running():
            assert self.proc.poll() is None, \
                f"{self.name}: exit {self.proc.returncode}: {self.err.snapshot()}"
            r = docker("inspect", "-f", "{{.Id}} {{.State.Pid}}", self.name, check=False)
            if r.returncode != 0:
                return None
            cid, pid = r.stdout.split()
            return (cid, int(pid)) if int(pid) > 0 else None
        self.id, self.pid = wait_until(running, WAIT, f"container {self.name} running")
        return self.pid

    def wait_line(self, word, timeout=WAIT):
        try:
            self.out.wait_for(lambda l: l == word, timeout, f'"{word}"')
        except AssertionError as e:
            raise AssertionError(f"{e}\n{self.name} stderr: {self.err.snapshot()}") from None

    def send(self, line):
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    def finish(self):
        self.send("exit")
        self.proc.stdin.close()
        rc = self.proc.wait(WAIT)
        self.out.join()
        self.err.join()
        return rc

    def result(self):
        return host_view(json.loads(self.out_file.read_text()), self.pid)

    def kill(self):
        if self.proc.poll() is None:
            docker("rm", "-f", self.name, check=False)
            self.proc.kill()
            self.proc.wait(10)


class HostWorkload:
    """gc_workload.py run by the host's python3.11 under a command name of its own (a symlink:
    the kernel names the process after it), so that its series is the only one with that
    `command` label whatever other Python processes run here."""

    def __init__(self, work_dir):
        self.dir = Path(work_dir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.comm = f"gcphost{secrets.token_hex(3)}"
        exe = self.dir / self.comm
        exe.symlink_to(PYTHON)
        self.out_file = self.dir / "ground-truth.json"
        self.proc = subprocess.Popen([str(exe), str(WORKLOAD), "--out", str(self.out_file),
                                      *WORKLOAD_ARGS, "--wait", "--hard-exit"],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)
        self.pid = self.proc.pid
        self.out = LineReader(self.proc.stdout, "host workload stdout")
        self.err = LineReader(self.proc.stderr, "host workload stderr")

    wait_line = ContainerWorkload.wait_line
    send = ContainerWorkload.send
    finish = ContainerWorkload.finish
    name = "host workload"

    def result(self):
        return json.loads(self.out_file.read_text())

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


class Primer:
    """An idle python of an image, started after the agent and traced by it: the image's
    interpreter (one inode in the image's layer, shared by all its containers) is then probed
    before the measured container starts, which is traced from its first collection."""

    def __init__(self, image, version, comm=None):
        self.name = f"gcpause-test-primer-{secrets.token_hex(4)}"
        r = docker("run", "-d", "--rm", "--name", self.name, "--label", TEST_LABEL,
                   "--network", "none", image, *python_cmd(version, comm), "-c",
                   "import time; time.sleep(3600)")
        self.id = r.stdout.strip()
        self.pid = json.loads(docker("inspect", self.name).stdout)[0]["State"]["Pid"]

    def remove(self):
        docker("rm", "-f", self.name, check=False)


def run_window(wl, agent):
    """Traced by the agent from its exec; ready, go, done, exit."""
    agent.wait_traced(wl.pid)
    wl.wait_line("ready")
    wl.send("go")
    wl.wait_line("done")
    assert wl.finish() == 0, f"{wl.name}: {wl.err.snapshot()}"


def series_of(scrape, **labels):
    """{(name, generation): value text} of the per-process series with these labels."""
    out = {}
    fam_names = ("gcpause_gc_collections_total", "gcpause_gc_pause_seconds_count",
                 "gcpause_gc_collected_objects_total", "gcpause_python_processes")
    for s in scrape.samples:
        if s.name not in fam_names:
            continue
        if all(s.labels.get(k) == v for k, v in labels.items()):
            key = (s.name, s.labels.get("generation"))
            assert key not in out, f"{key} twice for {labels}: {s.labels}"
            out[key] = s
    return out


def window(gt):
    """Per generation, collections and collected+uncollectable in the measured window."""
    return (stats_deltas(gt), [a + b for a, b in zip(stats_deltas(gt, "collected"),
                                                     stats_deltas(gt, "uncollectable"))])


def wait_exact(agent, gt, expected=since_start, **labels):
    """The series with `labels`, once its process has exited (gcpause saw every event),
    equal to the interpreter's gc.get_stats() since its start (or in its window),
    generation by generation."""
    counts, collected = expected(gt)

    def done():
        got = series_of(agent.scrape(), **labels)
        live = got.get(("gcpause_python_processes", None))
        return got if live is not None and live.int() == 0 else None
    got = wait_until(done, WAIT, f"the series of {labels} with its process gone")
    have = {
        "collections": [got[("gcpause_gc_collections_total", str(g))].int() for g in range(3)],
        "pause_count": [got[("gcpause_gc_pause_seconds_count", str(g))].int() for g in range(3)],
        "collected": [got[("gcpause_gc_collected_objects_total", str(g))].int()
                      for g in range(3)],
    }
    assert have == {"collections": counts, "pause_count": counts, "collected": collected}, \
        f"{labels}: gc.get_stats() since start: {counts}, collected {collected}"
    labels_seen = next(iter(got.values())).labels
    return counts, labels_seen


# --------------------------------------------------------------------------
# 1. The image
# --------------------------------------------------------------------------

def test_image_version_and_help(image):
    host = subprocess.run([str(GCPAUSE), "-V"], capture_output=True, text=True, timeout=10)
    r = docker("run", "--rm", "--label", TEST_LABEL, "--network", "none", image, "-V")
    assert r.stdout == host.stdout and r.stdout.startswith("gcpause "), (r.stdout, host.stdout)
    r = docker("run", "--rm", "--label", TEST_LABEL, "--network", "none", image, "--help")
    assert "serve" in r.stdout and "--all" in r.stdout, r.stdout[:500]
    r = docker("run", "--rm", "--label", TEST_LABEL, "--network", "none", image,
               "--no-such-option", check=False)
    assert r.returncode not in (0, 125, 126, 127), r
    lines = (r.stdout + r.stderr).strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("gcpause: "), lines
    info = json.loads(docker("image", "inspect", image).stdout)[0]["Config"]
    assert info["Entrypoint"] == ["gcpause"]
    assert info["Cmd"] == manifest_container(DAEMONSET)["args"]
    assert info["User"] == "0:0" and list(info["ExposedPorts"]) == ["9547/tcp"]


IMAGE_SURVEY = r"""
dpkg-query -W -f '${Package}\t${db:Status-Status}\t${Depends}\t${Pre-Depends}\n'
echo ---
ldd /usr/local/bin/gcpause
echo ---
for tool in cc gcc clang cpp ld as make pkg-config bpftool llvm-strip; do
	command -v $tool || true
done
echo ---
ls -A /var/lib/apt/lists
"""


def survey(image):
    out = docker("run", "--rm", "--label", TEST_LABEL, "--network", "none", "--entrypoint",
                 "sh", image, "-c", IMAGE_SURVEY).stdout
    dpkg, ldd, tools, lists = out.split("---\n")
    deps = {}
    for line in dpkg.splitlines():
        pkg, status, dep, pre = (line.split("\t") + ["", "", ""])[:4]
        if status != "installed":
            continue
        groups = []
        for field in (dep, pre):
            for group in filter(None, (g.strip() for g in field.split(","))):
                groups.append([re.sub(r"\s*\(.*?\)|:\w+", "", a).strip()
                               for a in group.split("|")])
        deps[pkg.split(":")[0]] = groups
    return deps, ldd, tools.split(), lists.split()


def test_runtime_stage_has_only_needed_packages(image):
    """Checked from the image itself: its packages are bookworm-slim's plus exactly the
    Dockerfile's list and their dependencies; each listed package provides a library gcpause
    loads; no compiler or build tool; no APT lists left."""
    deps, ldd, tools, lists = survey(image)
    base, _, _, _ = survey("debian:bookworm-slim")
    listed = set(apt_install_packages(runtime_install(dockerfile_stages())))
    added = set(deps) - set(base)
    assert added == closure(listed, deps) - set(base), \
        f"not pulled in by the listed packages: {sorted(added - closure(listed, deps))}; " \
        f"missing: {sorted(closure(listed, deps) - set(base) - added)}"
    assert not [p for p in deps if p.endswith("-dev")], sorted(deps)
    assert tools == [], f"build tools in the runtime image: {tools}"
    assert lists in ([], ["partial"]), f"APT lists left in the image: {lists}"
    assert "not found" not in ldd, ldd
    resolved = re.findall(r"=> (\S+) \(", ldd)
    owners = docker("run", "--rm", "--label", TEST_LABEL, "--network", "none", "--entrypoint",
                    "sh", image, "-c",
                    'for f; do dpkg-query -S "$f" 2>/dev/null || dpkg-query -S "/usr$f" '
                    '2>/dev/null || dpkg-query -S "$(readlink -f "$f")"; done',
                    "sh", *resolved).stdout
    owning = {line.split(":")[0] for line in owners.splitlines()}
    assert listed <= owning, f"listed but no library gcpause loads is in: {listed - owning}"
    FIGURES["runtime_packages_added"] = len(added)


# --------------------------------------------------------------------------
# 2. Run as the DaemonSet runs it
# --------------------------------------------------------------------------

CAP_NUMBERS = {"CHOWN": 0, "DAC_OVERRIDE": 1, "DAC_READ_SEARCH": 2, "FOWNER": 3, "KILL": 5,
               "SETGID": 6, "SETUID": 7, "NET_ADMIN": 12, "IPC_LOCK": 14, "SYS_PTRACE": 19,
               "SYS_ADMIN": 21, "SYS_RESOURCE": 24, "PERFMON": 38, "BPF": 39}


def proc_status(pid):
    return dict(l.split(":\t", 1) for l in Path(f"/proc/{pid}/status").read_text()
                .splitlines() if ":\t" in l)


def test_agent_has_the_manifests_settings(agent):
    """What the kubelet would give the container, read back from the running process."""
    c = manifest_container(DAEMONSET)
    sc = c["securityContext"]
    pid = agent.pid()
    st = proc_status(pid)
    want = sum(1 << CAP_NUMBERS[cap] for cap in sc["capabilities"]["add"]
               if cap not in agent.refused)
    for field in ("CapEff", "CapPrm", "CapBnd"):
        assert int(st[field].strip(), 16) == want, \
            f"{field} {st[field].strip()}, the manifest's list is {want:016x}"
    assert int(st["CapAmb"].strip(), 16) == 0
    assert st["Uid"].split()[:2] == [str(sc["runAsUser"])] * 2
    assert st["Gid"].split()[:2] == [str(sc["runAsGroup"])] * 2
    assert st["Seccomp"].strip() == "0", "seccomp: the manifest says Unconfined"
    # Host PID namespace, its own network namespace (no hostNetwork).
    assert os.readlink(f"/proc/{pid}/ns/pid") == os.readlink("/proc/self/ns/pid")
    assert os.readlink(f"/proc/{pid}/ns/net") != os.readlink("/proc/self/ns/net")
    root = [l.split() for l in Path(f"/proc/{pid}/mountinfo").read_text().splitlines()
            if l.split()[4] == "/"]
    assert root and "ro" in root[0][5].split(","), f"root not read-only: {root}"
    cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[:-1]
    assert [a.decode() for a in cmdline] == ["gcpause"] + c["args"]
    cfg = agent.inspect()["HostConfig"]
    assert cfg["PidMode"] == "host" and cfg["ReadonlyRootfs"] and not cfg["Privileged"]
    assert cfg["Memory"] == 256 * 2**20 and cfg["NanoCpus"] == 500_000_000
    assert not agent.inspect()["Mounts"], "the manifest has no volumes"
    rss_kib = int(st["VmRSS"].split()[0])
    FIGURES["agent_rss_kib"] = rss_kib
    memcg = Path(f"/sys/fs/cgroup/memory/docker/{agent.id}")
    if memcg.is_dir():
        FIGURES["agent_memcg_bytes"] = int((memcg / "memory.usage_in_bytes").read_text())
        FIGURES["agent_memcg_max_bytes"] = int((memcg / "memory.max_usage_in_bytes")
                                               .read_text())


def prometheus_for(agent, tmp_path, procs_list):
    """Debian's Prometheus with docs/deploy.md's scrape config; its kubernetes_sd pod target
    stood in by a static one with the pod's __meta labels (annotations from the manifest) at
    the agent's address: the config itself rewrites it to ADDRESS:annotation port."""
    with open(DAEMONSET) as f:
        ds = next(d for d in yaml.safe_load_all(f) if d and d.get("kind") == "DaemonSet")
    ann = ds["spec"]["template"]["metadata"]["annotations"]
    cfg = documented_scrape_config()
    (job,) = cfg["scrape_configs"]
    job.pop("kubernetes_sd_configs")
    port_name = manifest_container(DAEMONSET)["ports"][0]["name"]
    job["static_configs"] = [{"targets": [f"{agent.address}:1"], "labels": {
        "__meta_kubernetes_namespace": ds["metadata"]["namespace"],
        "__meta_kubernetes_pod_name": "gcpause-docker",
        "__meta_kubernetes_pod_node_name": "docker-node",
        "__meta_kubernetes_pod_container_port_name": port_name,
        "__meta_kubernetes_pod_annotation_prometheus_io_scrape": ann["prometheus.io/scrape"],
        "__meta_kubernetes_pod_annotation_prometheus_io_port": ann["prometheus.io/port"],
        "__meta_kubernetes_pod_annotation_prometheus_io_path": ann["prometheus.io/path"],
    }}]
    job["scrape_interval"] = job["scrape_timeout"] = "1s"

    class _Procs:
        def add(self, p):
            procs_list.append(p)
            return p
    prom = Prometheus(_Procs(), tmp_path / "prom", [])
    prom.config.write_text(yaml.safe_dump(cfg))
    return prom.start()


def kill_all(items):
    for p in items:
        try:
            p.kill()
        except Exception:
            pass


def test_traces_host_and_container_pythons(agent, py_images, tmp_path):
    """A host python3.11 and containers of python3.11 and python3.13 images, all started
    after the agent: traced from their exec, labelled with their Docker container ID (from
    the cgroup v1 path Docker writes here), exact against gc.get_stats(), and the same numbers
    in a real Prometheus scraping the published port with the documented config."""
    started, prom_procs = [], []
    try:
        prom = prometheus_for(agent, tmp_path, prom_procs)
        for version in ("3.11", "3.13"):
            p = Primer(py_images[version], version)
            started.append(p)
            agent.wait_traced(p.pid)
        host = HostWorkload(tmp_path / "host")
        started.append(host)
        run_window(host, agent)
        results = {}
        counts, labels = wait_exact(agent, host.result(), command=host.comm)
        assert "container_id" not in labels and "pod" not in labels, labels
        results["host"] = (counts, {"command": host.comm})
        for version in ("3.11", "3.13"):
            wl = ContainerWorkload(py_images[version], version, tmp_path / f"c{version}")
            started.append(wl)
            wl.wait_started()
            # Docker's own cgroup here (v1 hierarchies, and the v2 one beside them).
            cg = Path(f"/proc/{wl.pid}/cgroup").read_text()
            assert f"memory:/docker/{wl.id}\n" in cg and f"0::/docker/{wl.id}\n" in cg, cg
            line = agent.wait_traced(wl.pid)
            assert line.endswith(f" in container {wl.id}") and f"(python{version}, " in line, \
                line
            run_window(wl, agent)
            gt = wl.result()
            counts, labels = wait_exact(agent, gt, container_id=f"docker://{wl.id}")
            assert labels["command"] == f"python{version}"
            assert labels["python_version"] == gt["version"]
            assert "namespace" not in labels and "pod" not in labels, labels
            results[version] = (counts, {"container_id": f"docker://{wl.id}"})

        # Prometheus, through the published port and the documented relabelling.
        def in_prometheus():
            for what, (counts, sel) in results.items():
                q = ",".join(f'{k}="{v}"' for k, v in sel.items())
                res = prom.query(f'gcpause_gc_collections_total{{{q}}}')
                got = {r["metric"]["generation"]: int(r["value"][1]) for r in res}
                if got != {str(g): counts[g] for g in range(3)}:
                    return None
            return res
        res = wait_until(in_prometheus, WAIT, "the exact counts in Prometheus")
        m = res[0]["metric"]
        assert m["node"] == "docker-node" and m["instance"] == f"{agent.address}:9547", m
        assert not [k for k in m if k.startswith("exported_")], m
        targets = prom.api("targets")["activeTargets"]
        assert [t["health"] for t in targets] == ["up"], targets
    finally:
        for s in started:
            (s.remove if isinstance(s, Primer) else s.kill)()
        kill_all(prom_procs)


def test_docker_container_in_a_kubepods_cgroup(agent, py_images, tmp_path):
    """A Docker container whose cgroup parent is a kubelet-style (cgroupfs driver) pod cgroup,
    with the pod's hostname and service-account namespace file, as dockershim made them:
    labelled with the pod's UID, name and namespace, and exact."""
    uid = str(uuid.uuid4())
    pod = f"shop-web-{secrets.token_hex(3)}-x2kq9"
    sa = tmp_path / "sa"
    sa.mkdir()
    (sa / "namespace").write_text("shop")
    primer = Primer(py_images["3.13"], "3.13")
    wl = None
    try:
        agent.wait_traced(primer.pid)
        wl = ContainerWorkload(py_images["3.13"], "3.13", tmp_path / "pod", extra=(
            "--cgroup-parent", f"/kubepods/besteffort/pod{uid}", "--hostname", pod,
            "-v", f"{sa}:{SERVICEACCOUNT}:ro"))
        wl.wait_started()
        cg = Path(f"/proc/{wl.pid}/cgroup").read_text()
        assert f"memory:/kubepods/besteffort/pod{uid}/{wl.id}\n" in cg, cg
        run_window(wl, agent)
        # No runtime in a cgroupfs pod path: the ID alone, as gcpause documents.
        counts, labels = wait_exact(agent, wl.result(), container_id=wl.id)
        assert (labels.get("pod_uid"), labels.get("pod"), labels.get("namespace")) == \
            (uid, pod, "shop"), labels
    finally:
        primer.remove()
        if wl:
            wl.kill()
        # Docker removes the container's cgroups, not the parent it was given.
        for d in Path("/sys/fs/cgroup").glob(f"*/kubepods/besteffort/pod{uid}"):
            try:
                d.rmdir()
            except OSError:
                pass


def exact_container_run(agent, image, version, work_dir, name=None, extra=(), comm=None):
    """One container of `image` started after the agent, traced from its exec, exact."""
    wl = ContainerWorkload(image, version, work_dir, name=name, extra=extra, comm=comm)
    try:
        wl.wait_started()
        line = agent.wait_traced(wl.pid)
        run_window(wl, agent)
        counts, labels = wait_exact(agent, wl.result(), container_id=f"docker://{wl.id}")
        return wl, line, counts
    finally:
        wl.kill()


@pytest.mark.parametrize("tier", ["usdt", "stripped"])
def test_forced_probe_tiers(image, py_images, tier, tmp_path):
    """The DaemonSet's container with `--probe TIER` added to its arguments: both images'
    interpreters traced with that tier (the markers; the function found by disassembly, as
    Debian's interpreters have no symbols), exact. `--comm` keeps this agent to the test's
    own processes: forcing a tier on every Python of a busy host means analysing each one."""
    comm = f"gcptier{secrets.token_hex(3)}"
    a = start_agent(f"gcpause-test-agent-{tier}", extra_args=("--probe", tier, "--comm", comm))
    primers = []
    try:
        for version in ("3.11", "3.13"):
            p = Primer(py_images[version], version, comm)
            primers.append(p)
            a.wait_traced(p.pid)
            wl, line, counts = exact_container_run(a, py_images[version], version,
                                                   tmp_path / version, comm=comm)
            assert f", {tier}: " in line or f", {tier} " in line, line
            assert counts[0] > 0 and counts[2] > 0, counts
    finally:
        for p in primers:
            p.remove()
        a.remove()


def privileged_minus(missing):
    """`--privileged` spelled out without the capabilities this sandbox withholds."""
    def edit(flags):
        i = flags.index("--privileged")
        drop = [x for cap in missing for x in ("--cap-drop", cap)]
        return flags[:i] + ["--cap-add", "ALL", *drop, "--security-opt",
                            "systempaths=unconfined", "--device-cgroup-rule", "a *:* rwm"] + \
            flags[i + 1:]
    return edit


# PERFMON, BPF, CHECKPOINT_RESTORE: the capabilities of Linux 5.8 and 5.9.
NEWER_MASK = (1 << 38) | (1 << 39) | (1 << 40)


def test_privileged_variant(image, py_images, tmp_path):
    """daemonset-privileged.yaml translated: `--privileged`. Where the runtime can grant it,
    it runs as is; in a sandbox whose bounding set lacks capabilities Docker must refuse it,
    and the same container is run with those capabilities taken out of "all"."""
    spec = translate(PRIVILEGED, pod_address())
    assert "--privileged" in spec["flags"] and "--cap-add" not in spec["flags"]
    bounding = int(proc_status("self")["CapBnd"].strip(), 16)
    withheld = [name for name, bit in CAP_NUMBERS.items() if not bounding & (1 << bit)]
    name = "gcpause-test-agent-privileged"
    edit = None
    if withheld:
        a = Agent(name, spec)
        r = a.start()
        assert isinstance(r, subprocess.CompletedProcess) and r.returncode != 0, \
            f"--privileged started though {withheld} are outside the bounding set"
        assert "caps" in r.stderr or "operation not permitted" in r.stderr, r.stderr
        FIGURES["privileged_refused"] = r.stderr.strip().splitlines()[-1][-200:]
        docker("rm", "-f", name, check=False)
        edit = privileged_minus(withheld)
    a = start_agent(name, PRIVILEGED, flags_edit=edit)
    primer = None
    try:
        st = proc_status(a.pid())
        # Every capability of the bounding set, but those the engine has no name for (Docker
        # 20.10: BPF, PERFMON, CHECKPOINT_RESTORE, newer than its list; SYS_ADMIN covers them).
        eff = int(st["CapEff"].strip(), 16)
        unnamed = bounding & ~eff
        assert eff & ~bounding == 0 and unnamed & ~NEWER_MASK == 0, \
            f"CapEff {eff:x}, bounding set {bounding:x}"
        FIGURES["privileged_capeff"] = f"{eff:x}"
        primer = Primer(py_images["3.13"], "3.13")
        a.wait_traced(primer.pid)
        exact_container_run(a, py_images["3.13"], "3.13", tmp_path / "wl")
    finally:
        if primer:
            primer.remove()
        a.remove()


def test_without_sys_admin_one_line_and_nonzero_exit(agent):
    """The manifest minus SYS_ADMIN on this kernel (uprobes need it since 6.16): the
    container exits non-zero, which the kubelet sees, with one clear line in its log."""
    name = "gcpause-test-agent-nosysadmin"

    def edit(flags):
        return without_caps(flags, {"SYS_ADMIN"} | set(agent.refused))
    spec = translate(DAEMONSET, pod_address())
    a = Agent(name, spec, edit(list(spec["flags"])))
    try:
        r = a.start()
        assert not isinstance(r, subprocess.CompletedProcess), r.stderr
        rc = int(docker("wait", name, timeout=WAIT + 30).stdout.strip())
        assert rc != 0
        logs = docker("logs", name)
        assert logs.stdout == "", logs.stdout
        lines = logs.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("gcpause: ") and \
            "SYS_ADMIN" in lines[0], lines
        FIGURES["no_sys_admin"] = {"exit": rc, "log": lines[0]}
    finally:
        a.remove()


# --------------------------------------------------------------------------
# 3. Restarts
# --------------------------------------------------------------------------

def usdt_semaphores(pid):
    """(gc__start, gc__done) semaphore values in a running interpreter's memory."""
    exe = f"/proc/{pid}/exe"
    header = subprocess.run(["readelf", "-h", "-n", "-W", exe], capture_output=True, text=True,
                            timeout=30).stdout
    pie = re.search(r"Type:\s+DYN", header) is not None
    sems, provider, name = {}, None, None
    for line in header.splitlines():
        # (readelf -W puts "Provider:" on the note's header line.)
        if m := re.search(r"Provider: (\S+)", line):
            provider = m.group(1)
        elif m := re.search(r"^\s*Name: (\S+)", line):
            name = m.group(1)
        elif (m := re.search(r"Semaphore: (0x[0-9a-f]+)", line)) and provider == "python" \
                and name in ("gc__start", "gc__done"):
            sems[name] = int(m.group(1), 16)
    assert set(sems) == {"gc__start", "gc__done"} and all(sems.values()), sems
    bias = 0
    if pie:
        real = os.path.realpath(exe)
        for line in Path(f"/proc/{pid}/maps").read_text().splitlines():
            f = line.split()
            if len(f) >= 6 and f[2] == "00000000" and os.path.basename(f[5]) == \
                    os.path.basename(real):
                bias = int(f[0].split("-")[0], 16)
                break
        assert bias, "the executable's first mapping was not found"
    with open(f"/proc/{pid}/mem", "rb") as mem:
        out = []
        for n in ("gc__start", "gc__done"):
            mem.seek(sems[n] + bias)
            out.append(int.from_bytes(mem.read(2), "little"))
    return tuple(out)


def other_tracers():
    """gcpause processes on this host other than the agents started here."""
    ours = set()
    for cid in docker("ps", "-q", "--filter", f"label={TEST_LABEL}").stdout.split():
        ours.add(json.loads(docker("inspect", cid).stdout)[0]["State"]["Pid"])
    out = []
    for d in Path("/proc").iterdir():
        try:
            if d.name.isdigit() and (d / "comm").read_text().strip() == "gcpause" and \
                    int(d.name) not in ours:
                out.append(int(d.name))
        except OSError:
            pass
    return out


def test_traced_container_restarts(agent, py_images, tmp_path):
    """The same container name run again (new container ID, new PID, as the kubelet restarts
    a container): a new series, exact, the old one left with no live process and its counts;
    and `docker restart` of a container (same ID, new PID): traced again."""
    primer = Primer(py_images["3.13"], "3.13")
    try:
        agent.wait_traced(primer.pid)
        name = f"gcpause-test-restart-{secrets.token_hex(3)}"
        first, _, counts1 = exact_container_run(agent, py_images["3.13"], "3.13",
                                                tmp_path / "1", name=name)
        second, _, counts2 = exact_container_run(agent, py_images["3.13"], "3.13",
                                                 tmp_path / "2", name=name)
        assert first.id != second.id and first.pid != second.pid
        old = series_of(agent.scrape(), container_id=f"docker://{first.id}")
        assert old[("gcpause_python_processes", None)].int() == 0
        assert [old[("gcpause_gc_collections_total", str(g))].int() for g in range(3)] == \
            counts1

        old_pid = primer.pid
        docker("restart", "-t", "1", primer.name)
        new_pid = json.loads(docker("inspect", primer.name).stdout)[0]["State"]["Pid"]
        assert new_pid != old_pid
        line = agent.wait_traced(new_pid)
        assert line.endswith(f" in container {primer.id}"), line
    finally:
        primer.remove()


def test_agent_restart_leaves_no_probe(agent, py_images, tmp_path):
    """The agent container stopped (SIGTERM), started again, killed (SIGKILL), started again,
    while a host python3.11 and a container's python3.13 wait: their USDT semaphores go back
    to what they were without the agent each time (0 when no other gcpause runs here) and up
    again when it is back; the targets run on unaffected, and the agent's last life counts
    their measured window exactly."""
    host = HostWorkload(tmp_path / "host")
    primer = Primer(py_images["3.13"], "3.13")
    wl = None
    try:
        agent.wait_traced(primer.pid)
        wl = ContainerWorkload(py_images["3.13"], "3.13", tmp_path / "c")
        wl.wait_started()
        targets = (host.pid, wl.pid)
        for t in (host, wl):
            agent.wait_traced(t.pid)
            t.wait_line("ready")

        def sems():
            return [usdt_semaphores(p) for p in targets]
        with_agent = sems()
        assert all(s[0] >= 1 and s[1] >= 1 for s in with_agent), with_agent

        def back_to(want):
            def check():
                now = sems()
                # Other gcpause processes on a shared machine (--all ones too) attach to the
                # targets and detach on their own: then at least one target must show ours gone.
                if now == want or (other_tracers() and any(
                        n[0] <= w[0] and n[1] <= w[1] for n, w in zip(now, want))):
                    return now
                raise AssertionError(f"semaphores {now}, waiting for {want}")
            return check

        def without():
            return [(s[0] - 1, s[1] - 1) for s in with_agent]
        for how in ("stop", "kill"):
            if how == "stop":
                docker("stop", "-t", "20", agent.name, timeout=60)
            else:
                docker("kill", agent.name)
                docker("wait", agent.name, timeout=60)
            now = wait_until(back_to(without()), WAIT, f"semaphores down after docker {how}")
            if not other_tracers():
                assert now == [(0, 0), (0, 0)], now
            for t in (host, wl):
                assert t.proc.poll() is None, f"{t.name} died with the agent"
            docker("start", agent.name)
            agent.follow()
            agent.wait_healthy()
            for p in targets:
                agent.wait_traced(p)
            wait_until(lambda: all(n[0] >= 1 and n[1] >= 1 for n in sems()), WAIT,
                       f"semaphores up after docker {how}; start")
        for t in (host, wl):
            t.send("go")
            t.wait_line("done")
            assert t.finish() == 0, t.err.snapshot()
        # Counters start again with the agent: its last life saw the whole window, exactly.
        counts, _ = wait_exact(agent, host.result(), window, command=host.comm)
        assert counts[2] > 0
        wait_exact(agent, wl.result(), window, container_id=f"docker://{wl.id}")
    finally:
        host.kill()
        primer.remove()
        if wl:
            wl.kill()


# --------------------------------------------------------------------------
# 4. The same pod under containerd (the kubelet's usual runtime), exact capabilities
# --------------------------------------------------------------------------

# dockerd's own containerd (Debian's containerd 1.6 and runc 1.1, what a kubelet would drive
# through CRI); ctr is its client.
CONTAINERD_SOCK = "/run/docker/containerd/containerd.sock"
CTR_NAMESPACE = "gcpause-test"
CTR_IMAGE = f"docker.io/{IMAGE}"
ALL_CAPS = ("CHOWN DAC_OVERRIDE DAC_READ_SEARCH FOWNER FSETID KILL SETGID SETUID SETPCAP "
            "LINUX_IMMUTABLE NET_BIND_SERVICE NET_BROADCAST NET_ADMIN NET_RAW IPC_LOCK "
            "IPC_OWNER SYS_MODULE SYS_RAWIO SYS_CHROOT SYS_PTRACE SYS_PACCT SYS_ADMIN SYS_BOOT "
            "SYS_NICE SYS_RESOURCE SYS_TIME SYS_TTY_CONFIG MKNOD LEASE AUDIT_WRITE AUDIT_CONTROL "
            "SETFCAP MAC_OVERRIDE MAC_ADMIN SYSLOG WAKE_ALARM BLOCK_SUSPEND AUDIT_READ PERFMON "
            "BPF CHECKPOINT_RESTORE").split()


def ctr(*args, timeout=120, check=True):
    r = subprocess.run(["ctr", "-a", CONTAINERD_SOCK, "-n", CTR_NAMESPACE, *args],
                       capture_output=True, text=True, timeout=timeout,
                       stdin=subprocess.DEVNULL)
    if check and r.returncode != 0:
        raise AssertionError(f"ctr {' '.join(args[:2])}: exit {r.returncode}: {r.stderr}")
    return r


def ctr_flags(docker_flags, netns, pidns):
    """The translated `docker run` flags in ctr's words; anything else fails."""
    added = {docker_flags[i + 1] for i, f in enumerate(docker_flags) if f == "--cap-add"}
    out, i = [], 0
    while i < len(docker_flags):
        f = docker_flags[i]
        arg = docker_flags[i + 1] if i + 1 < len(docker_flags) else None
        if f == "--pid=host":
            out += ["--with-ns", f"pid:{pidns}"]
        elif f == "--publish":
            out += ["--with-ns", f"network:{netns}"]
            i += 1
        elif f == "--cap-drop":
            assert arg == "ALL", arg
            # ctr adds before it drops: "all but the added ones", spelled out.
            for cap in ALL_CAPS:
                if cap not in added:
                    out += ["--cap-drop", f"CAP_{cap}"]
            i += 1
        elif f == "--cap-add":
            out += ["--cap-add", f"CAP_{arg}"]
            i += 1
        elif f == "--user":
            assert arg == "0:0", "ctr runs the image's user, which is 0:0"
            i += 1
        elif f == "--read-only":
            out.append("--read-only")
        elif f == "--security-opt":
            # ctr applies no seccomp filter and no AppArmor profile unless asked.
            assert arg in ("seccomp=unconfined", "apparmor=unconfined"), arg
            i += 1
        elif f == "--memory":
            out += ["--memory-limit", arg]
            i += 1
        elif f == "--cpus":
            out += [f, arg]
            i += 1
        else:
            raise AssertionError(f"no ctr translation for {f}")
        i += 1
    return out


@pytest.fixture(scope="module")
def ctr_image(image):
    if shutil.which("ctr") is None or not os.path.exists(CONTAINERD_SOCK):
        pytest.skip(f"no ctr or no containerd socket at {CONTAINERD_SOCK}")
    want = docker("image", "inspect", "-f", "{{.Id}}", image).stdout.strip()
    have = ctr("images", "ls", f"name=={CTR_IMAGE}", check=False).stdout
    if f"org.gcpause.docker-id={want}" not in have:
        # An older import of the tag first: importing over it can trip on its layers.
        ctr("images", "rm", CTR_IMAGE, check=False)
        save = subprocess.Popen([DOCKER, "save", image], stdout=subprocess.PIPE)
        r = subprocess.run(["ctr", "-a", CONTAINERD_SOCK, "-n", CTR_NAMESPACE, "images",
                            "import", "-"], stdin=save.stdout, capture_output=True, text=True,
                           timeout=300)
        save.stdout.close()
        assert save.wait(60) == 0 and r.returncode == 0, f"ctr images import: {r.stderr}"
        ctr("images", "label", CTR_IMAGE, f"org.gcpause.docker-id={want}")
    return CTR_IMAGE


def test_containerd_runs_the_manifests_exact_capabilities(ctr_image, py_images, tmp_path):
    """containerd and runc take the manifest's capability names as they are (Docker 20.10
    does not know BPF and PERFMON): the pod as a kubelet makes it, a sandbox holding the
    network namespace (a Docker container publishing the port, in the pause container's
    role) and the agent joining it with the host's PID namespace; exactly the manifest's
    capabilities, and a Docker container's python3.13 traced, exact, through the port."""
    spec = translate(DAEMONSET, pod_address())
    address = spec["flags"][spec["flags"].index("--publish") + 1].split(":")[0]
    port = spec["ports"][0]
    sandbox = f"gcpause-test-sandbox-{secrets.token_hex(3)}"
    name = f"gcpause-test-ctr-{secrets.token_hex(3)}"
    docker("run", "-d", "--name", sandbox, "--label", TEST_LABEL, "-p",
           f"{address}:{port}:{port}", "debian:bookworm-slim", "sleep", "infinity")
    proc, primer = None, None
    try:
        netns = f"/proc/{json.loads(docker('inspect', sandbox).stdout)[0]['State']['Pid']}/ns/net"
        flags = ctr_flags(spec["flags"], netns, f"/proc/{os.getpid()}/ns/pid")
        proc = subprocess.Popen(["ctr", "-a", CONTAINERD_SOCK, "-n", CTR_NAMESPACE, "run",
                                 "--rm", *flags, ctr_image, name, "gcpause", *spec["args"]],
                                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, text=True)
        logs = LineReader(proc.stderr, f"ctr run {name}")
        a = Agent(name, dict(spec, flags=spec["flags"]))
        a.logs = logs
        def healthy():
            assert proc.poll() is None, f"ctr run exited {proc.returncode}: {logs.snapshot()}"
            return a.healthy()
        wait_until(healthy, HEALTHY_TIMEOUT, "/healthz of the containerd agent")
        tasks = ctr("tasks", "ls").stdout.splitlines()
        pid = int(next(l.split()[1] for l in tasks if l.split()[0] == name))
        st = proc_status(pid)
        want = sum(1 << CAP_NUMBERS[c] for c in
                   manifest_container(DAEMONSET)["securityContext"]["capabilities"]["add"])
        for field in ("CapEff", "CapPrm", "CapBnd"):
            assert int(st[field].strip(), 16) == want, (field, st[field])
        assert st["Seccomp"].strip() == "0" and st["Uid"].split()[0] == "0"
        assert os.readlink(f"/proc/{pid}/ns/pid") == os.readlink("/proc/self/ns/pid")
        assert os.readlink(f"/proc/{pid}/ns/net") == os.readlink(netns)
        primer = Primer(py_images["3.13"], "3.13")
        a.wait_traced(primer.pid)
        exact_container_run(a, py_images["3.13"], "3.13", tmp_path / "wl")
        ctr("tasks", "kill", "-s", "SIGTERM", name)
        assert proc.wait(WAIT) == 0, logs.snapshot()[-5:]

        # The manifest minus SYS_ADMIN, which this runtime can express: exit 1, one line.
        nosys = ctr_flags(without_caps(spec["flags"], {"SYS_ADMIN"}), netns,
                          f"/proc/{os.getpid()}/ns/pid")
        r = subprocess.run(["ctr", "-a", CONTAINERD_SOCK, "-n", CTR_NAMESPACE, "run", "--rm",
                            *nosys, ctr_image, name + "-nosys", "gcpause", *spec["args"]],
                           stdin=subprocess.DEVNULL, capture_output=True, text=True,
                           timeout=60)
        lines = r.stderr.strip().splitlines()
        assert r.returncode == 1 and r.stdout == "" and len(lines) == 1, (r.returncode, lines)
        assert lines[0].startswith("gcpause: cannot create uprobes: ") and \
            "CAP_SYS_ADMIN" in lines[0], lines
        FIGURES["containerd_no_sys_admin"] = {"exit": r.returncode, "log": lines[0]}
    finally:
        if primer:
            primer.remove()
        ctr("containers", "rm", name + "-nosys", check=False)
        if proc is not None:
            ctr("tasks", "kill", "-s", "SIGKILL", name, check=False)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
            ctr("containers", "rm", name, check=False)
        docker("rm", "-f", sandbox, check=False)


def test_uprobes_refused_at_start_without_sys_admin():
    """No Docker needed: gcpause under the manifest's capabilities minus SYS_ADMIN (setpriv
    takes the others out of its bounding set) exits 1 at once with one line, on this kernel,
    where CAP_PERFMON no longer creates uprobes; with SYS_ADMIN back it starts."""
    if shutil.which("setpriv") is None:
        pytest.skip("setpriv (util-linux) is not installed")
    caps = [c.lower() for c in manifest_container(DAEMONSET)["securityContext"]
            ["capabilities"]["add"]]
    without = ",".join(["-all"] + [f"+{c}" for c in caps if c != "sys_admin"])
    r = subprocess.run(["setpriv", f"--bounding-set={without}", str(GCPAUSE), "serve", "--all",
                        "--listen", "127.0.0.1:0"], capture_output=True, text=True, timeout=30,
                       stdin=subprocess.DEVNULL)
    lines = r.stderr.strip().splitlines()
    assert r.returncode == 1 and r.stdout == "" and len(lines) == 1, (r.returncode, lines)
    assert lines[0].startswith("gcpause: cannot create uprobes: Permission denied"), lines
    full = ",".join(["-all"] + [f"+{c}" for c in caps])
    r = subprocess.run(["setpriv", f"--bounding-set={full}", str(GCPAUSE), "-d", "0.5",
                        "--all", "--comm", "no-such-command"], capture_output=True, text=True,
                       timeout=60, stdin=subprocess.DEVNULL)
    assert r.returncode == 0, r.stderr
