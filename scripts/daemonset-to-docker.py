#!/usr/bin/env python3
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""Translate a DaemonSet manifest's pod into the `docker run` that starts its container the way
the kubelet would: the same PID namespace, capabilities, user, mounts, read-only root, seccomp
and AppArmor settings, resource limits and arguments.

    daemonset-to-docker.py [--image IMAGE] [--publish-address ADDR] [--json] MANIFEST

Prints the `docker run` argument list (without `docker run`), one shell-quoted command line, or
with --json an object: {"flags": [...], "image": ..., "args": [...], "ports": [...],
"probes": {"readinessProbe": {"path": ..., "port": ...}, ...}}. IMAGE replaces the manifest's
image (the one a test built); each container port is published on ADDR (default 127.0.0.1),
the same port number, standing in for the pod IP: what the kubelet's probes and a Prometheus
pod-role target reach as POD_IP:PORT is ADDR:PORT here.

Every field of the pod and of its container is either translated or listed here as having no
`docker run` counterpart (scheduling, probes, service account, resource requests); any other
field is an error, so
that a manifest change this script does not understand breaks the tests that use it instead of
being silently dropped. Exit status: 0, or 1 with one line on stderr.
"""

import argparse
import json
import shlex
import sys

import yaml

# Pod and container fields that do not change how the container's process runs on a node.
POD_IGNORED = {
    "serviceAccountName",           # API credentials; automountServiceAccountToken is checked
    "enableServiceLinks",           # Service environment variables: false is handled below
    "nodeSelector", "tolerations", "affinity", "priorityClassName",   # scheduling
    "terminationGracePeriodSeconds",
}
CONTAINER_IGNORED = {
    "name", "image", "imagePullPolicy",
    "readinessProbe", "livenessProbe", "startupProbe",  # the kubelet's; returned in "probes"
    "resources",                                        # handled apart
}
SECURITY_HANDLED = {
    "privileged", "runAsUser", "runAsGroup", "runAsNonRoot", "readOnlyRootFilesystem",
    "capabilities", "seccompProfile", "appArmorProfile", "allowPrivilegeEscalation",
}
APPARMOR_ANNOTATION = "container.apparmor.security.beta.kubernetes.io/"


class Untranslatable(Exception):
    pass


def need(cond, what):
    if not cond:
        raise Untranslatable(what)


def quantity_bytes(q):
    q = str(q)
    for suffix, mult in (("Ki", 2**10), ("Mi", 2**20), ("Gi", 2**30),
                         ("k", 10**3), ("M", 10**6), ("G", 10**9)):
        if q.endswith(suffix):
            return int(float(q[:-len(suffix)]) * mult)
    return int(q)


def quantity_cores(q):
    q = str(q)
    return float(q[:-1]) / 1000 if q.endswith("m") else float(q)


def probe_target(c, probe):
    get = probe.get("httpGet")
    need(get is not None, "only httpGet probes are understood")
    port = get["port"]
    if not isinstance(port, int):
        named = [p["containerPort"] for p in c.get("ports", []) if p.get("name") == port]
        need(len(named) == 1, f"probe port {port!r} names no container port")
        port = named[0]
    return {"path": get.get("path", "/"), "port": port}


def security_flags(sc, apparmor_annotation):
    unknown = set(sc) - SECURITY_HANDLED
    need(not unknown, f"securityContext fields not understood: {sorted(unknown)}")
    flags = []
    if sc.get("privileged"):
        flags.append("--privileged")
    caps = sc.get("capabilities", {})
    need(set(caps) <= {"add", "drop"}, f"capabilities fields not understood: {sorted(caps)}")
    for cap in caps.get("drop", []):
        flags += ["--cap-drop", cap]
    for cap in caps.get("add", []):
        flags += ["--cap-add", cap]
    if "runAsUser" in sc or "runAsGroup" in sc:
        need("runAsUser" in sc, "runAsGroup without runAsUser")
        user = str(sc["runAsUser"])
        if "runAsGroup" in sc:
            user += f":{sc['runAsGroup']}"
        flags += ["--user", user]
    if sc.get("runAsNonRoot"):
        need(sc.get("runAsUser", 0) != 0, "runAsNonRoot with runAsUser 0")
    if sc.get("readOnlyRootFilesystem"):
        flags.append("--read-only")
    if sc.get("allowPrivilegeEscalation") is False:
        flags += ["--security-opt", "no-new-privileges"]
    seccomp = sc.get("seccompProfile", {}).get("type", "RuntimeDefault")
    need(seccomp in ("Unconfined", "RuntimeDefault"), f"seccompProfile {seccomp} not understood")
    if seccomp == "Unconfined":
        flags += ["--security-opt", "seccomp=unconfined"]
    apparmor = sc.get("appArmorProfile", {}).get("type")
    if apparmor_annotation is not None:
        as_field = {"unconfined": "Unconfined", "runtime/default": "RuntimeDefault"}
        need(apparmor_annotation in as_field,
             f"AppArmor annotation {apparmor_annotation!r} not understood")
        need(apparmor in (None, as_field[apparmor_annotation]),
             "the AppArmor annotation and appArmorProfile disagree")
        apparmor = as_field[apparmor_annotation]
    need(apparmor in (None, "Unconfined", "RuntimeDefault"),
         f"appArmorProfile {apparmor} not understood")
    if apparmor == "Unconfined":
        flags += ["--security-opt", "apparmor=unconfined"]
    return flags


def volume_flags(pod, c):
    volumes = {v["name"]: v for v in pod.get("volumes", [])}
    flags = []
    for m in c.get("volumeMounts", []):
        need(set(m) <= {"name", "mountPath", "readOnly"},
             f"volumeMount fields not understood: {sorted(m)}")
        v = volumes.get(m["name"])
        need(v is not None, f"volumeMount {m['name']} has no volume")
        ro = ",readonly" if m.get("readOnly") else ""
        if "hostPath" in v:
            flags += ["--mount", f"type=bind,source={v['hostPath']['path']},"
                      f"target={m['mountPath']}{ro}"]
        elif "emptyDir" in v:
            need(not ro, "a read-only emptyDir")
            flags += ["--tmpfs", m["mountPath"]]
        else:
            raise Untranslatable(f"volume {m['name']}: only hostPath and emptyDir are understood")
    return flags


def translate(manifest, image, publish_address):
    docs = [d for d in yaml.safe_load_all(manifest) if d]
    sets = [d for d in docs if d.get("kind") == "DaemonSet"]
    need(len(sets) == 1, f"expected one DaemonSet, found {len(sets)}")
    template = sets[0]["spec"]["template"]
    pod = template["spec"]
    annotations = template.get("metadata", {}).get("annotations", {})
    need(len(pod.get("containers", [])) == 1, "expected one container")
    need(not pod.get("initContainers"), "initContainers are not understood")
    c = pod["containers"][0]

    handled_pod = {"containers", "hostPID", "hostNetwork", "hostIPC", "volumes",
                   "automountServiceAccountToken", "securityContext", "dnsPolicy"}
    unknown = set(pod) - handled_pod - POD_IGNORED
    need(not unknown, f"pod fields not understood: {sorted(unknown)}")
    need(not pod.get("securityContext"), "a pod-level securityContext is not understood")
    need(pod.get("automountServiceAccountToken") is False,
         "a mounted service-account token is not understood (no API server here)")
    handled_container = {"args", "command", "ports", "securityContext", "env", "volumeMounts",
                         "workingDir"}
    unknown = set(c) - handled_container - CONTAINER_IGNORED
    need(not unknown, f"container fields not understood: {sorted(unknown)}")

    flags = []
    if pod.get("hostPID"):
        flags.append("--pid=host")
    if pod.get("hostIPC"):
        flags.append("--ipc=host")
    ports = []
    if pod.get("hostNetwork"):
        flags.append("--network=host")
    else:
        for p in c.get("ports", []):
            need(p.get("protocol", "TCP") == "TCP", "only TCP ports are understood")
            need("hostPort" not in p, "hostPort is not understood")
            ports.append(p["containerPort"])
            port = p["containerPort"]
            flags += ["--publish", f"{publish_address}:{port}:{port}"]
    apparmor = annotations.get(APPARMOR_ANNOTATION + c["name"])
    flags += security_flags(c.get("securityContext", {}), apparmor)
    flags += volume_flags(pod, c)
    for e in c.get("env", []):
        need(set(e) == {"name", "value"}, f"env {e.get('name')}: only plain values are understood")
        flags += ["--env", f"{e['name']}={e['value']}"]
    if "workingDir" in c:
        flags += ["--workdir", c["workingDir"]]
    # The kubelet sets the limits on the container's cgroup. A CPU request becomes cpu.shares,
    # a weight against the node's other pods only (kubepods as a whole is weighted against the
    # system): given to a container that competes with every process of a host it would starve
    # it instead, so requests are left out.
    limits = c.get("resources", {}).get("limits", {})
    requests = c.get("resources", {}).get("requests", {})
    need(set(limits) <= {"cpu", "memory"} and set(requests) <= {"cpu", "memory"},
         "resources other than cpu and memory are not understood")
    if "memory" in limits:
        flags += ["--memory", str(quantity_bytes(limits["memory"]))]
    if "cpu" in limits:
        flags += ["--cpus", f"{quantity_cores(limits['cpu']):g}"]
    args = list(c.get("args", []))
    if "command" in c:
        flags += ["--entrypoint", c["command"][0]]
        args = list(c["command"][1:]) + args
    probes = {k: probe_target(c, c[k]) for k in ("readinessProbe", "livenessProbe",
                                                   "startupProbe") if k in c}
    return {"flags": flags, "image": image or c["image"], "args": args, "ports": ports,
            "probes": probes}


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("manifest")
    p.add_argument("--image", help="run this image instead of the manifest's")
    p.add_argument("--publish-address", default="127.0.0.1",
                   help="host address the container ports are published on")
    p.add_argument("--json", action="store_true", help="print a JSON object")
    opts = p.parse_args()
    try:
        with open(opts.manifest) as f:
            out = translate(f.read(), opts.image, opts.publish_address)
    except (OSError, yaml.YAMLError) as e:
        sys.exit(f"daemonset-to-docker: {opts.manifest}: {str(e).splitlines()[0]}")
    except (Untranslatable, KeyError, TypeError, ValueError) as e:
        sys.exit(f"daemonset-to-docker: {opts.manifest}: cannot translate: {e}")
    if opts.json:
        print(json.dumps(out))
    else:
        print(shlex.join(["docker", "run", *out["flags"], out["image"], *out["args"]]))


if __name__ == "__main__":
    main()
