# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""The deployment files: Kubernetes manifests, Dockerfile, install-deps.sh --build-only.

No cluster and no Docker engine are needed (docs/deploy.md says what was and was not run).
The manifests are parsed and checked field by field against each other and against the
documentation; the Dockerfile's runtime packages are checked against what `ldd build/gcpause`
resolves on this (same Debian release) machine; the documented Prometheus scrape config is run
against Debian's Prometheus with a stand-in exporter.
"""

import http.server
import json
import os
import re
import shutil
import socket
import subprocess
import threading
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy" / "kubernetes"
DOCKERFILE = REPO / "Dockerfile"
DEPLOY_DOC = REPO / "docs" / "deploy.md"
INSTALL_DEPS = REPO / "scripts" / "install-deps.sh"
GCPAUSE = REPO / "build" / "gcpause"

NAMESPACE = "gcpause"
PORT = 9547
PORT_NAME = "metrics"
DAEMONSETS = ("daemonset.yaml", "daemonset-privileged.yaml")
# Files deliberately left out of kustomization.yaml (docs/deploy.md, "Files").
NOT_IN_KUSTOMIZATION = {"daemonset-privileged.yaml", "servicemonitor.yaml", "networkpolicy.yaml"}

# Packages that only the tests need, which --build-only must leave out, and packages the build
# cannot do without, which it must keep.
TEST_ONLY_PACKAGES = {
    "python3-pytest", "gunicorn", "python3-flask", "python3-gevent", "uvicorn",
    "python3-uvloop", "wrk", "prometheus", "python3-yaml", "tmux", "debootstrap",
    "libcmocka-dev", "systemtap-sdt-dev", "python3.11", "libpython3.11", "libpython3.11-dev",
    "binutils",
}
BUILD_PACKAGES = {
    "make", "gcc", "clang", "llvm", "pkg-config", "bpftool", "libbpf-dev", "libelf-dev",
    "zlib1g-dev", "libdw-dev", "libdebuginfod-dev", "liblzma-dev", "libcapstone-dev",
    "libjson-c-dev", "libncurses-dev", "libmicrohttpd-dev",
}


# --------------------------------------------------------------------------
# Manifests
# --------------------------------------------------------------------------

def load_manifests():
    out = {}
    for path in sorted(DEPLOY.glob("*.yaml")):
        with open(path) as f:
            out[path.name] = [d for d in yaml.safe_load_all(f) if d is not None]
    return out


@pytest.fixture(scope="module")
def manifests():
    m = load_manifests()
    assert m, f"no YAML files in {DEPLOY}"
    return m


def one(manifests, fname, kind):
    docs = [d for d in manifests.get(fname, []) if d.get("kind") == kind]
    assert len(docs) == 1, f"{fname}: expected one {kind}, found {len(docs)}"
    return docs[0]


def pod_spec(ds):
    return ds["spec"]["template"]["spec"]


def container(ds):
    cs = pod_spec(ds)["containers"]
    assert len(cs) == 1, f"expected one container, found {len(cs)}"
    return cs[0]


def resolve_port(c, port):
    """A probe's port (number or name) to the container port number."""
    if isinstance(port, int):
        return port
    for p in c.get("ports", []):
        if p.get("name") == port:
            return p["containerPort"]
    raise AssertionError(f"port {port!r} names none of the container's ports {c.get('ports')}")


def listen_arg(args):
    if "--listen" in args:
        return args[args.index("--listen") + 1]
    for a in args:
        if a.startswith("--listen="):
            return a.split("=", 1)[1]
    return None


def documented_capabilities():
    """The capabilities in docs/deploy.md's "Each capability" table."""
    text = DEPLOY_DOC.read_text()
    m = re.search(r"^### Each capability\n(.*?)(?=^#)", text, re.S | re.M)
    assert m, "docs/deploy.md has no '### Each capability' section"
    caps = set(re.findall(r"^\| `([A-Z_]+)` \|", m.group(1), re.M))
    assert caps, "no capability rows in docs/deploy.md's table"
    return caps


def cpu_cores(q):
    q = str(q)
    return float(q[:-1]) / 1000 if q.endswith("m") else float(q)


def mem_bytes(q):
    q = str(q)
    for suffix, mult in (("Ki", 2**10), ("Mi", 2**20), ("Gi", 2**30),
                         ("k", 10**3), ("M", 10**6), ("G", 10**9)):
        if q.endswith(suffix):
            return float(q[:-len(suffix)]) * mult
    return float(q)


def test_every_manifest_parses(manifests):
    for fname, docs in manifests.items():
        assert docs, f"{fname}: no document"
        for d in docs:
            assert d.get("apiVersion") and d.get("kind"), f"{fname}: apiVersion/kind missing"
            if d["kind"] == "Kustomization":
                continue
            assert d.get("metadata", {}).get("name"), f"{fname}: {d['kind']} without a name"
            if d["kind"] != "Namespace":
                assert d["metadata"].get("namespace") == NAMESPACE, \
                    f"{fname}: {d['kind']} not in namespace {NAMESPACE}"
    ns = one(manifests, "namespace.yaml", "Namespace")
    assert ns["metadata"]["name"] == NAMESPACE
    # hostPID and the capabilities are refused under Pod Security "baseline".
    assert ns["metadata"]["labels"].get("pod-security.kubernetes.io/enforce") == "privileged"


@pytest.mark.parametrize("fname", DAEMONSETS)
def test_daemonset_host_pid_no_host_network(manifests, fname):
    ds = one(manifests, fname, "DaemonSet")
    spec = pod_spec(ds)
    assert spec.get("hostPID") is True, f"{fname}: hostPID must be true (every node's process)"
    assert not spec.get("hostNetwork"), f"{fname}: no hostNetwork (listens on the pod IP)"
    assert not spec.get("volumes"), f"{fname}: no volumes are needed (docs/deploy.md, Mounts)"
    assert not container(ds).get("volumeMounts")
    sa = one(manifests, "serviceaccount.yaml", "ServiceAccount")
    assert spec.get("serviceAccountName") == sa["metadata"]["name"]
    sel = ds["spec"]["selector"]["matchLabels"]
    labels = ds["spec"]["template"]["metadata"]["labels"]
    assert sel.items() <= labels.items(), f"{fname}: selector does not match the pod labels"
    assert spec.get("nodeSelector", {}).get("kubernetes.io/os") == "linux"


def test_default_daemonset_capabilities(manifests):
    ds = one(manifests, "daemonset.yaml", "DaemonSet")
    sc = container(ds)["securityContext"]
    assert not sc.get("privileged"), "daemonset.yaml must not be privileged"
    caps = sc.get("capabilities", {})
    assert caps.get("drop") == ["ALL"], f"capabilities.drop must be [ALL], is {caps.get('drop')}"
    add = caps.get("add", [])
    assert len(add) == len(set(add)), f"duplicate capabilities: {add}"
    assert set(add) == documented_capabilities(), \
        f"capabilities.add {sorted(add)} differ from docs/deploy.md's {sorted(documented_capabilities())}"
    # Kubernetes gives added capabilities to uid 0 only (no ambient capabilities).
    assert sc.get("runAsUser") == 0 and sc.get("runAsNonRoot") is not True
    assert sc.get("readOnlyRootFilesystem") is True
    # Refused by the API with CAP_SYS_ADMIN, and meaningless with it.
    if "SYS_ADMIN" in add:
        assert sc.get("allowPrivilegeEscalation") is not False


def test_privileged_variant_matches_default(manifests):
    base = one(manifests, "daemonset.yaml", "DaemonSet")
    priv = one(manifests, "daemonset-privileged.yaml", "DaemonSet")
    bc, pc = container(base), container(priv)
    assert pc["securityContext"].get("privileged") is True
    assert "add" not in pc["securityContext"].get("capabilities", {}), \
        "privileged grants every capability; a list there would mislead"
    assert pc["securityContext"].get("allowPrivilegeEscalation") is not False
    # The same DaemonSet, so that one replaces the other.
    assert (priv["metadata"]["name"], priv["metadata"]["namespace"]) == \
        (base["metadata"]["name"], base["metadata"]["namespace"])
    for key in ("name", "image", "args", "ports", "readinessProbe", "livenessProbe",
                "resources"):
        assert pc.get(key) == bc.get(key), f"container {key} differs between the variants"
    for key in ("hostPID", "tolerations", "nodeSelector", "serviceAccountName",
                "automountServiceAccountToken"):
        assert pod_spec(priv).get(key) == pod_spec(base).get(key), f"pod {key} differs"
    assert priv["spec"]["selector"] == base["spec"]["selector"]
    assert priv["spec"]["updateStrategy"] == base["spec"]["updateStrategy"]
    assert priv["spec"]["template"]["metadata"] == base["spec"]["template"]["metadata"]


@pytest.mark.parametrize("fname", DAEMONSETS)
def test_seccomp_and_apparmor_unconfined(manifests, fname):
    ds = one(manifests, fname, "DaemonSet")
    c = container(ds)
    pod_sc = pod_spec(ds).get("securityContext", {})
    c_sc = c.get("securityContext", {})
    # The container's setting wins over the pod's.
    seccomp = c_sc.get("seccompProfile") or pod_sc.get("seccompProfile") or {}
    assert seccomp.get("type") == "Unconfined", f"{fname}: seccomp must be Unconfined"
    apparmor = c_sc.get("appArmorProfile") or pod_sc.get("appArmorProfile") or {}
    assert apparmor.get("type") == "Unconfined", f"{fname}: appArmorProfile must be Unconfined"
    ann = ds["spec"]["template"]["metadata"].get("annotations", {})
    assert ann.get(f"container.apparmor.security.beta.kubernetes.io/{c['name']}") == \
        "unconfined", f"{fname}: the pre-1.30 AppArmor annotation must name the container"


@pytest.mark.parametrize("fname", DAEMONSETS)
def test_args_ports_probes_annotations_agree(manifests, fname):
    ds = one(manifests, fname, "DaemonSet")
    c = container(ds)
    args = c["args"]
    assert args[:2] == ["serve", "--all"], f"{fname}: args must start with serve --all: {args}"
    assert "command" not in c, "the image's ENTRYPOINT (gcpause) must stay in charge"
    assert listen_arg(args) == f"0.0.0.0:{PORT}", f"{fname}: --listen is {listen_arg(args)}"
    ports = c["ports"]
    assert [(p["name"], p["containerPort"], p.get("protocol", "TCP")) for p in ports] == \
        [(PORT_NAME, PORT, "TCP")]
    assert "hostPort" not in ports[0]
    for probe in ("readinessProbe", "livenessProbe"):
        get = c[probe]["httpGet"]
        assert get["path"] == "/healthz", f"{fname}: {probe} path {get['path']}"
        assert resolve_port(c, get["port"]) == PORT, f"{fname}: {probe} port"
    ann = ds["spec"]["template"]["metadata"]["annotations"]
    assert ann.get("prometheus.io/scrape") == "true"
    assert ann.get("prometheus.io/port") == str(PORT)
    assert ann.get("prometheus.io/path") == "/metrics"


@pytest.mark.parametrize("fname", DAEMONSETS)
def test_resources_tolerations_update_strategy(manifests, fname):
    ds = one(manifests, fname, "DaemonSet")
    res = container(ds).get("resources", {})
    for kind in ("requests", "limits"):
        for r in ("cpu", "memory"):
            assert r in res.get(kind, {}), f"{fname}: resources.{kind}.{r} missing"
    assert cpu_cores(res["requests"]["cpu"]) <= cpu_cores(res["limits"]["cpu"])
    assert mem_bytes(res["requests"]["memory"]) <= mem_bytes(res["limits"]["memory"])
    # Every taint: a toleration with operator Exists and no key.
    assert any(t.get("operator") == "Exists" and "key" not in t and "effect" not in t
               for t in pod_spec(ds).get("tolerations", [])), f"{fname}: must tolerate all"
    strategy = ds["spec"]["updateStrategy"]
    assert strategy["type"] == "RollingUpdate"
    assert strategy["rollingUpdate"]["maxUnavailable"] == "10%"


def test_no_service_account_token(manifests):
    sa = one(manifests, "serviceaccount.yaml", "ServiceAccount")
    assert sa.get("automountServiceAccountToken") is False
    for fname in DAEMONSETS:
        assert pod_spec(one(manifests, fname, "DaemonSet")).get(
            "automountServiceAccountToken") is False, f"{fname}: token would be mounted"


def test_service_and_servicemonitor_agree(manifests):
    ds = one(manifests, "daemonset.yaml", "DaemonSet")
    c = container(ds)
    svc = one(manifests, "service.yaml", "Service")
    sm = one(manifests, "servicemonitor.yaml", "ServiceMonitor")
    assert sm["apiVersion"] == "monitoring.coreos.com/v1"

    assert svc["spec"].get("clusterIP") == "None", "the Service must be headless"
    pod_labels = ds["spec"]["template"]["metadata"]["labels"]
    assert svc["spec"]["selector"].items() <= pod_labels.items(), "Service selects no agent pod"
    (sport,) = svc["spec"]["ports"]
    assert sport["name"] == PORT_NAME and sport["port"] == PORT
    target = sport.get("targetPort", sport["port"])
    assert resolve_port(c, target) == PORT, "Service targetPort is not the container's port"

    assert sm["spec"]["selector"]["matchLabels"].items() <= svc["metadata"]["labels"].items(), \
        "the ServiceMonitor does not select the Service"
    assert NAMESPACE in sm["spec"]["namespaceSelector"]["matchNames"]
    (ep,) = sm["spec"]["endpoints"]
    assert ep["honorLabels"] is True, "gcpause's namespace/pod labels need honorLabels: true"
    assert ep["port"] == sport["name"] == c["ports"][0]["name"] == PORT_NAME
    assert ep.get("path", "/metrics") == "/metrics"
    assert ep["interval"] == "30s"
    # The agent's own namespace/pod must not be pasted onto host processes' series.
    drops = [r["regex"] for r in ep.get("relabelings", []) if r.get("action") == "labeldrop"]
    for label in ("namespace", "pod"):
        assert any(re.fullmatch(rx, label) for rx in drops), f"{label} target label not dropped"


def test_networkpolicy_example(manifests):
    ds = one(manifests, "daemonset.yaml", "DaemonSet")
    np = one(manifests, "networkpolicy.yaml", "NetworkPolicy")
    assert np["spec"]["podSelector"]["matchLabels"].items() <= \
        ds["spec"]["template"]["metadata"]["labels"].items()
    ports = [p["port"] for rule in np["spec"]["ingress"] for p in rule["ports"]]
    assert ports and all(resolve_port(container(ds), p) == PORT for p in ports)
    assert "Egress" in np["spec"]["policyTypes"] and np["spec"]["egress"] == []


def test_kustomization_lists_the_default_set(manifests):
    k = one(manifests, "kustomization.yaml", "Kustomization")
    resources = k["resources"]
    assert len(resources) == len(set(resources))
    for r in resources:
        assert (DEPLOY / r).is_file(), f"kustomization.yaml lists missing {r}"
    expected = set(manifests) - {"kustomization.yaml"} - NOT_IN_KUSTOMIZATION
    assert set(resources) == expected, \
        f"kustomization.yaml lists {sorted(resources)}, expected {sorted(expected)}"
    assert (DEPLOY / "README.md").is_file()


# --------------------------------------------------------------------------
# Dockerfile
# --------------------------------------------------------------------------

def dockerfile_stages():
    """[(from_line, [(INSTRUCTION, rest), ...]), ...], continuation lines joined."""
    stages, cur = [], ""
    for line in DOCKERFILE.read_text().splitlines():
        s = line.strip()
        if s.startswith("#") or (not s and not cur):
            continue
        if s.endswith("\\"):
            cur += s[:-1] + " "
            continue
        cur += s
        instr, _, rest = cur.partition(" ")
        cur = ""
        instr = instr.upper()
        if instr == "FROM":
            stages.append((rest.strip(), []))
        else:
            assert stages, f"Dockerfile: {instr} before FROM"
            stages[-1][1].append((instr, " ".join(rest.split())))
    return stages


def apt_install_packages(run):
    m = re.search(r"apt-get install (.*?)(?:&&|$)", run)
    assert m, f"no apt-get install in {run!r}"
    return [w for w in m.group(1).split() if not w.startswith("-")]


def runtime_install(stages):
    runs = [rest for instr, rest in stages[-1][1] if instr == "RUN" and "apt-get install" in rest]
    assert len(runs) == 1, "the runtime stage must install its packages in one RUN"
    return runs[0]


def test_dockerfile_stages(manifests):
    stages = dockerfile_stages()
    assert len(stages) == 2, f"expected a build and a runtime stage, found {len(stages)}"
    (build_from, build), (run_from, runtime) = stages
    assert re.fullmatch(r"debian:bookworm AS build", build_from, re.I), build_from
    assert run_from == "debian:bookworm-slim", run_from

    build_runs = [rest for instr, rest in build if instr == "RUN"]
    assert any(re.search(r"(^|[ ;&])\./scripts/install-deps\.sh --build-only( |$)", r)
               for r in build_runs), "the build stage must run ./scripts/install-deps.sh --build-only"
    assert any(re.search(r"(^|[ ;&])make( |$)", r) for r in build_runs), "no make in the build stage"
    assert any(i == "COPY" and r.split()[0] == "." for i, r in build), "the repo is not copied"

    assert ("COPY", "--from=build /src/build/gcpause /usr/local/bin/gcpause") in runtime
    install = runtime_install(stages)
    assert "--no-install-recommends" in install
    assert "rm -rf /var/lib/apt/lists/*" in install
    instrs = dict(runtime)   # the last of each kind
    assert json.loads(instrs["ENTRYPOINT"]) == ["gcpause"]
    cmd = json.loads(instrs["CMD"])
    assert cmd == container(one(manifests, "daemonset.yaml", "DaemonSet"))["args"], \
        "the image's CMD and the DaemonSet's args should be the same command"
    assert instrs["EXPOSE"].split() == [str(PORT)]
    assert listen_arg(cmd) == f"0.0.0.0:{PORT}"
    labels = " ".join(r for i, r in runtime if i == "LABEL")
    for key in ("title", "description", "version", "licenses"):
        assert f"org.opencontainers.image.{key}=" in labels, f"label {key} missing"


def test_dockerfile_release_is_this_machines():
    """The runtime packages are checked against this machine's dpkg: same release needed."""
    osr = dict(line.split("=", 1) for line in
               Path("/etc/os-release").read_text().splitlines() if "=" in line)
    codename = osr.get("VERSION_CODENAME", "").strip('"')
    froms = [f for f, _ in dockerfile_stages()]
    assert all(f.split()[0].split(":")[1].startswith(codename) for f in froms), \
        f"Dockerfile is {froms}, this machine is Debian {codename}"


def dpkg_owners(paths):
    """{path: package (no arch)} through one dpkg-query -S, trying the merged-/usr spellings."""
    spellings = {}
    for path in paths:
        for p in (path, os.path.realpath(path)):
            alts = [p]
            if p.startswith("/lib"):
                alts.append("/usr" + p)
            elif p.startswith("/usr/lib"):
                alts.append(p[len("/usr"):])
            for a in alts:
                spellings.setdefault(a, path)
    # Unknown spellings only add "no path found" lines on stderr (and exit status 1).
    out = subprocess.run(["dpkg-query", "-S"] + list(spellings), capture_output=True,
                         text=True).stdout
    owners = {}
    for line in out.splitlines():
        pkgs, _, p = line.rpartition(": ")
        if p in spellings:
            owners.setdefault(spellings[p], pkgs.split(",")[0].split(":")[0].strip())
    missing = [p for p in paths if p not in owners]
    assert not missing, f"no Debian package owns {missing}"
    return owners


def installed_dependencies():
    """{package: [[alternative, ...], ...]} for every installed package (Depends, Pre-Depends)."""
    out = subprocess.run(
        ["dpkg-query", "-W", "-f", "${Package}\t${db:Status-Status}\t${Depends}\t${Pre-Depends}\n"],
        capture_output=True, text=True, check=True).stdout
    deps = {}
    for line in out.splitlines():
        pkg, status, dep, pre = (line.split("\t") + ["", "", ""])[:4]
        if status != "installed":
            continue
        groups = []
        for field in (dep, pre):
            for group in filter(None, (g.strip() for g in field.split(","))):
                groups.append([re.sub(r"\s*\(.*?\)|:\w+", "", a).strip() for a in group.split("|")])
        deps[pkg] = groups
    return deps


def closure(roots, deps):
    seen, todo = set(), list(roots)
    while todo:
        pkg = todo.pop()
        if pkg in seen:
            continue
        seen.add(pkg)
        for alts in deps.get(pkg, []):
            todo.extend(a for a in alts if a in deps)
    return seen


def test_runtime_packages_cover_ldd():
    if not os.access(GCPAUSE, os.X_OK):
        pytest.skip(f"{GCPAUSE} is missing: run `make` first")
    ldd = subprocess.run(["ldd", str(GCPAUSE)], capture_output=True, text=True, check=True).stdout
    resolved = {}
    for line in ldd.splitlines():
        m = re.match(r"\s*(\S+) => (\S+) \(", line)
        if m:
            resolved[m.group(1)] = m.group(2)
        assert "not found" not in line, f"ldd: {line.strip()}"
    assert resolved, f"ldd resolved nothing:\n{ldd}"
    dyn = subprocess.run(["readelf", "-d", str(GCPAUSE)], capture_output=True, text=True,
                         check=True).stdout
    needed = re.findall(r"\(NEEDED\)\s+Shared library: \[(.+?)\]", dyn)
    assert needed, "readelf found no NEEDED entries"

    listed = set(apt_install_packages(runtime_install(dockerfile_stages())))
    owner = dpkg_owners(list(resolved.values()))
    # Directly linked: each library's package named in the apt-get line (libc6 is in every
    # Debian image; it is the C library itself).
    for soname in needed:
        pkg = owner[resolved[soname]]
        if pkg == "libc6":
            continue
        assert pkg in listed, f"{soname} ({resolved[soname]}) is in {pkg}, not in the Dockerfile's apt-get line"
    # Everything ldd resolves: in a listed package or one of their dependencies.
    reach = closure(listed | {"libc6"}, installed_dependencies())
    for soname, path in resolved.items():
        pkg = owner[path]
        assert pkg in reach, f"{soname} ({path}, {pkg}) would be missing from the runtime image"


# --------------------------------------------------------------------------
# scripts/install-deps.sh
# --------------------------------------------------------------------------

def stub_bin(tmp_path):
    """A PATH where every package is missing, the user is not root and apt-get only records."""
    d = tmp_path / "stubs"
    d.mkdir()
    (d / "dpkg-query").write_text("#!/bin/sh\nexit 1\n")
    (d / "id").write_text("#!/bin/sh\necho 1000\n")
    (d / "apt-get").write_text(f"#!/bin/sh\necho \"$@\" >> {tmp_path}/apt-get.calls\n")
    for f in d.iterdir():
        f.chmod(0o755)
    return d


def run_install_deps(args, path=None, timeout=30):
    env = dict(os.environ)
    if path:
        env["PATH"] = f"{path}:/usr/bin:/bin"
    start = time.monotonic()
    r = subprocess.run(["bash", str(INSTALL_DEPS)] + args, capture_output=True, text=True,
                       env=env, timeout=timeout, stdin=subprocess.DEVNULL, cwd=REPO)
    return r, time.monotonic() - start


def missing_list(r):
    m = re.search(r"missing packages: (.*?); run as root", r.stderr)
    assert m, f"no missing-packages line: rc {r.returncode}, stderr {r.stderr!r}"
    return m.group(1).split()


def test_install_deps_build_only_selects_build_packages(tmp_path):
    stubs = stub_bin(tmp_path)
    r, _ = run_install_deps(["--build-only"], stubs)
    assert r.returncode == 1
    build = missing_list(r)
    assert len(build) == len(set(build))
    assert BUILD_PACKAGES <= set(build), f"--build-only lacks {BUILD_PACKAGES - set(build)}"
    assert not TEST_ONLY_PACKAGES & set(build), \
        f"--build-only installs test packages {TEST_ONLY_PACKAGES & set(build)}"
    r, _ = run_install_deps([], stubs)
    full = missing_list(r)
    assert set(build) < set(full) and TEST_ONLY_PACKAGES <= set(full), \
        f"without --build-only, missing: {TEST_ONLY_PACKAGES - set(full)}"
    assert not (tmp_path / "apt-get.calls").exists(), "apt-get ran as non-root"


def test_install_deps_build_only_noop_when_installed(tmp_path):
    r, _ = run_install_deps(["--build-only"], stub_bin(tmp_path))
    wanted = missing_list(r)
    q = subprocess.run(["dpkg-query", "-W", "-f", "${Package} ${db:Status-Status}\n"] + wanted,
                       capture_output=True, text=True)
    installed = {l.split()[0] for l in q.stdout.splitlines() if l.endswith(" installed")}
    if set(wanted) - installed:
        pytest.skip(f"build packages not installed here: {sorted(set(wanted) - installed)}")
    r, elapsed = run_install_deps(["--build-only"])
    assert r.returncode == 0, f"rc {r.returncode}: {r.stderr}"
    assert not r.stdout and not r.stderr, f"output from a no-op run: {r.stdout!r} {r.stderr!r}"
    assert elapsed < 10, f"a no-op run took {elapsed:.1f} s"


def test_install_deps_rejects_unknown_option(tmp_path):
    stubs = stub_bin(tmp_path)
    for bad in (["--bogus"], ["--build-only", "extra"]):
        r, elapsed = run_install_deps(bad, stubs)
        assert r.returncode != 0 and r.returncode != 1, \
            f"{bad}: rc {r.returncode} (1 is 'missing packages': the option was not refused)"
        assert "unknown option" in r.stderr and not r.stdout, (r.stdout, r.stderr)
        assert len(r.stderr.splitlines()) == 1
    assert not (tmp_path / "apt-get.calls").exists()


# --------------------------------------------------------------------------
# The documented Prometheus scrape config, run
# --------------------------------------------------------------------------

EXPOSITION = """\
# HELP gcpause_gc_collections_total CPython cyclic GC collections.
# TYPE gcpause_gc_collections_total counter
gcpause_gc_collections_total{namespace="shop",pod="web-7d9f",container_id="containerd://ab12",command="gunicorn",python_version="3.11.2",generation="0"} 42
gcpause_gc_collections_total{command="python3",python_version="3.11.2",generation="0"} 7
# HELP gcpause_processes_traced Python processes traced now.
# TYPE gcpause_processes_traced gauge
gcpause_processes_traced 2
"""


def documented_scrape_config():
    text = DEPLOY_DOC.read_text()
    m = re.search(r"<!-- test_deploy: scrape-config.*?-->\n```yaml\n(.*?)```", text, re.S)
    assert m, "docs/deploy.md: no scrape config block after the test_deploy marker"
    return yaml.safe_load(m.group(1))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Exporter(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = EXPOSITION.encode() if self.path == "/metrics" else b"not found\n"
        self.send_response(200 if self.path == "/metrics" else 404)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def prom_get(base, path, **params):
    url = f"{base}{path}?{urllib.parse.urlencode(params)}" if params else base + path
    with urllib.request.urlopen(url, timeout=5) as r:
        return json.load(r)


def test_documented_scrape_config_keeps_workload_labels(tmp_path):
    cfg = documented_scrape_config()
    (job,) = cfg["scrape_configs"]
    assert job.get("honor_labels") is True, "the documented scrape config needs honor_labels: true"
    sd = job.pop("kubernetes_sd_configs")
    assert sd[0]["role"] == "pod"
    if not shutil.which("prometheus"):
        pytest.skip("prometheus is not installed (scripts/install-deps.sh installs it)")

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Exporter)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    exporter_port = server.server_address[1]
    # Debian's Prometheus has no Kubernetes discovery: static targets carrying the labels the
    # pod role would give. The address has another port, as a pod IP would: the annotation's
    # port must be the one scraped.
    meta = {
        "__meta_kubernetes_namespace": NAMESPACE,
        "__meta_kubernetes_pod_name": "gcpause-x7k2p",
        "__meta_kubernetes_pod_node_name": "node-a",
        "__meta_kubernetes_pod_container_port_name": PORT_NAME,
        "__meta_kubernetes_pod_annotation_prometheus_io_scrape": "true",
        "__meta_kubernetes_pod_annotation_prometheus_io_port": str(exporter_port),
        "__meta_kubernetes_pod_annotation_prometheus_io_path": "/metrics",
    }
    # Two targets the config must drop: a pod that does not ask to be scraped, and another
    # port of the agent pod (the pod role makes a target per container port).
    not_asked = dict(meta, __meta_kubernetes_pod_annotation_prometheus_io_scrape="false",
                     __meta_kubernetes_pod_node_name="node-b")
    other_port = dict(meta, __meta_kubernetes_pod_container_port_name="debug",
                      __meta_kubernetes_pod_node_name="node-c")
    job["static_configs"] = [{"targets": ["127.0.0.1:1"], "labels": meta},
                             {"targets": ["127.0.0.2:1"], "labels": not_asked},
                             {"targets": ["127.0.0.3:1"], "labels": other_port}]
    job["scrape_interval"] = "1s"
    job["scrape_timeout"] = "1s"
    cfg["global"] = {"scrape_interval": "1s", "evaluation_interval": "1s"}
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(cfg))

    prom_port = free_port()
    base = f"http://127.0.0.1:{prom_port}"
    proc = subprocess.Popen(
        ["prometheus", f"--config.file={tmp_path / 'prometheus.yml'}",
         f"--storage.tsdb.path={tmp_path / 'data'}", f"--web.listen-address=127.0.0.1:{prom_port}"],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=open(tmp_path / "prom.log", "w"))
    try:
        series, deadline = [], time.monotonic() + 40
        while time.monotonic() < deadline:
            assert proc.poll() is None, f"prometheus exited: {(tmp_path / 'prom.log').read_text()[-2000:]}"
            try:
                res = prom_get(base, "/api/v1/query", query='{job="gcpause"}')["data"]["result"]
                series = [r["metric"] for r in res if r["metric"]["__name__"].startswith("gcpause_")]
                if len(series) == 3:
                    break
            except OSError:
                pass
            time.sleep(0.5)
        assert len(series) == 3, f"scraped series: {series}\n{(tmp_path / 'prom.log').read_text()[-2000:]}"
        targets = prom_get(base, "/api/v1/targets")["data"]["activeTargets"]
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
        server.shutdown()

    assert [t["labels"].get("node") for t in targets] == ["node-a"], \
        f"only the annotated target is kept: {[t['labels'] for t in targets]}"
    by_command = {s.get("command", s["__name__"]): s for s in series}
    web = by_command["gunicorn"]
    assert (web.get("namespace"), web.get("pod")) == ("shop", "web-7d9f"), web
    assert web["container_id"] == "containerd://ab12"
    host = by_command["python3"]
    agent = by_command["gcpause_processes_traced"]
    for s in (web, host, agent):
        assert s.get("node") == "node-a", s
        assert s["instance"] == f"127.0.0.1:{exporter_port}", s
        assert not [k for k in s if k.startswith("exported_")], s
    for s in (host, agent):
        assert "namespace" not in s and "pod" not in s, \
            f"the agent's namespace/pod leaked onto a series without them: {s}"
