# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""The manifests through Debian's kubectl (kubernetes-client, 1.20): no cluster.

`kubectl kustomize deploy/kubernetes` builds the default set offline. `kubectl apply
--dry-run=client --validate=false -o yaml` needs the API server's discovery even in client mode
(to map each kind to its resource); a stub on loopback answers exactly that, and a 404 for every
object (none exists yet), and records what kubectl asked: nothing may be written. What this
proves: kubectl reads every file, knows every apiVersion/kind, and would create these objects
as they are written. What it does not: schema validation (--validate needs the server's OpenAPI
document) or admission (Pod Security, the kubelet); docs/deploy.md says so.

kubectl comes from Debian's kubernetes-client package: installed, or else fetched with `apt-get
download` and unpacked under build/ (this machine's kubectl package, Google's, owns
/usr/bin/kubectl, so Debian's cannot be installed beside it).
"""

import http.server
import json
import os
import subprocess
import threading

import pytest
import yaml

from conftest import BUILD, REPO

DEPLOY = REPO / "deploy" / "kubernetes"
UNPACKED = BUILD / "kubernetes-client"

# What discovery must say for the manifests' kinds: (group/version, resource, kind, namespaced).
RESOURCES = [
    ("v1", "namespaces", "Namespace", False),
    ("v1", "serviceaccounts", "ServiceAccount", True),
    ("v1", "services", "Service", True),
    ("apps/v1", "daemonsets", "DaemonSet", True),
    ("networking.k8s.io/v1", "networkpolicies", "NetworkPolicy", True),
    ("monitoring.coreos.com/v1", "servicemonitors", "ServiceMonitor", True),
]


@pytest.fixture(scope="module")
def kubectl():
    r = subprocess.run(["dpkg-query", "-W", "-f", "${db:Status-Status}", "kubernetes-client"],
                       capture_output=True, text=True)
    if r.stdout == "installed":
        return "/usr/bin/kubectl"
    exe = UNPACKED / "usr" / "bin" / "kubectl"
    if not os.access(exe, os.X_OK):
        UNPACKED.mkdir(parents=True, exist_ok=True)
        try:
            r = subprocess.run(["apt-get", "download", "kubernetes-client"], cwd=UNPACKED,
                               capture_output=True, text=True, timeout=300,
                               stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            pytest.skip("apt-get download kubernetes-client did not finish in 300 s")
        debs = sorted(UNPACKED.glob("kubernetes-client_*.deb"))
        if r.returncode != 0 or not debs:
            pytest.skip("Debian's kubernetes-client cannot be downloaded here: "
                        f"{(r.stderr.strip().splitlines() or ['?'])[-1]}")
        subprocess.run(["dpkg-deb", "-x", str(debs[-1]), str(UNPACKED)], check=True,
                       timeout=120)
        for deb in debs:
            deb.unlink()
    return str(exe)


def manifest_docs(names):
    out = []
    for name in names:
        with open(DEPLOY / name) as f:
            out += [d for d in yaml.safe_load_all(f) if d]
    return out


def key(doc):
    return (doc["apiVersion"], doc["kind"], doc["metadata"].get("namespace"),
            doc["metadata"]["name"])


def test_kustomize_builds_the_default_set(kubectl):
    kust = yaml.safe_load((DEPLOY / "kustomization.yaml").read_text())
    r = subprocess.run([kubectl, "kustomize", str(DEPLOY)], capture_output=True, text=True,
                       timeout=60, stdin=subprocess.DEVNULL, env=dict(os.environ,
                                                                      KUBECONFIG="/dev/null"))
    assert r.returncode == 0, r.stderr
    built = {key(d): d for d in yaml.safe_load_all(r.stdout) if d}
    want = {key(d): d for d in manifest_docs(kust["resources"])}
    assert built == want, f"kustomize changed or lost objects: {set(built) ^ set(want)}"


class Discovery(http.server.BaseHTTPRequestHandler):
    requests = []

    def reply(self, code, body):
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        path = self.path.split("?")[0]
        Discovery.requests.append(("GET", path))
        groups = {}
        for gv, *_ in RESOURCES:
            if "/" in gv:
                groups.setdefault(gv.split("/")[0], gv)
        if path == "/api":
            return self.reply(200, {"kind": "APIVersions", "versions": ["v1"]})
        if path == "/apis":
            return self.reply(200, {"kind": "APIGroupList", "apiVersion": "v1", "groups": [
                {"name": g, "versions": [{"groupVersion": gv, "version": gv.split("/")[1]}],
                 "preferredVersion": {"groupVersion": gv, "version": gv.split("/")[1]}}
                for g, gv in groups.items()]})
        for gv in {r[0] for r in RESOURCES}:
            if path == ("/api/" if gv == "v1" else "/apis/") + gv:
                return self.reply(200, {
                    "kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv,
                    "resources": [{"name": name, "singularName": "", "namespaced": ns,
                                   "kind": kind, "verbs": ["create", "get", "list", "patch"]}
                                  for g, name, kind, ns in RESOURCES if g == gv]})
        return self.reply(404, {"kind": "Status", "apiVersion": "v1", "status": "Failure",
                                "reason": "NotFound", "code": 404, "message": "not found"})

    def do_POST(self):
        Discovery.requests.append((self.command, self.path))
        self.reply(405, {"kind": "Status", "code": 405})

    do_PUT = do_PATCH = do_DELETE = do_POST

    def log_message(self, *args):
        pass


@pytest.mark.parametrize("fname", sorted(p.name for p in DEPLOY.glob("*.yaml")
                                         if p.name != "kustomization.yaml"))
def test_apply_dry_run_client(kubectl, fname, tmp_path):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Discovery)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    Discovery.requests = []
    config = tmp_path / "kubeconfig"
    config.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "stub",
        "clusters": [{"name": "stub", "cluster": {
            "server": f"http://127.0.0.1:{server.server_address[1]}"}}],
        "contexts": [{"name": "stub", "context": {"cluster": "stub", "user": "stub"}}],
        "users": [{"name": "stub", "user": {}}]}))
    try:
        r = subprocess.run([kubectl, "--kubeconfig", str(config), "--cache-dir",
                            str(tmp_path / "cache"), "apply", "--dry-run=client",
                            "--validate=false", "-o", "yaml", "-f", str(DEPLOY / fname)],
                           capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    finally:
        server.shutdown()
    assert r.returncode == 0, r.stderr
    assert all(m == "GET" for m, _ in Discovery.requests), Discovery.requests
    out = yaml.safe_load(r.stdout)
    got = out["items"] if out.get("kind") == "List" else [out]
    want = manifest_docs([fname])
    assert len(got) == len(want)
    for g, w in zip(got, want):
        ann = dict(g["metadata"].get("annotations", {}))
        last = json.loads(ann.pop("kubectl.kubernetes.io/last-applied-configuration"))
        # (It records the annotations it found, none, as an empty map.)
        if last["metadata"].get("annotations") == {}:
            del last["metadata"]["annotations"]
        assert last == w, f"{fname}: kubectl read {key(w)} differently"
        g["metadata"]["annotations"] = ann
        if not ann:
            del g["metadata"]["annotations"]
        assert g == w, f"{fname}: the dry run changed {key(w)}"
