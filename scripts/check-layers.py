#!/usr/bin/env python3
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""Checks the layering of src/ that docs/design.md describes; `make test` runs it.

1. Each folder includes only the folders it may (RULES): the libraries below never reach up
   into the run, the outputs or the fleet.
2. No two modules (a .c and its .h) include each other, directly or through others: the
   module graph has no cycle.
Prints one line per violation and exits 1; silent and 0 when the layout holds.
"""
import os
import re
import sys

SRC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src")

# folder -> folders (or "bpf") its files may include, besides itself
RULES = {
    "util": set(),
    "proc": {"util"},
    "probe/elf": {"util"},
    "probe/x86": {"util", "probe/elf"},
    "probe": {"util", "proc", "probe/elf", "probe/x86", "bpf"},
    "trace": {"util", "proc", "probe", "probe/elf", "bpf"},
    "http": {"util", "bpf"},
    "stats": {"util", "proc", "probe", "http", "bpf"},
    "report": {"util", "proc", "probe", "stats", "http", "bpf"},
    "top": {"util", "proc", "probe", "stats", "http", "report", "bpf"},
    "serve": {"util", "proc", "stats", "http", "report", "bpf"},
    "cause": {"util", "report"},
    "fleet": {"util", "proc", "probe", "probe/elf", "trace", "bpf"},
    "run": {"util", "proc", "probe", "probe/elf", "trace", "stats", "http", "report", "top",
            "serve", "fleet", "bpf"},
    ".": set(RULES_ALL := ["util", "proc", "probe", "probe/elf", "probe/x86", "trace", "stats",
                           "http", "report", "top", "serve", "cause", "fleet", "run", "bpf"]),
}
# Modules that are one in all but files: the symbol tables and the debug files they come from.
ONE_MODULE = {"probe/elf/debugfile": "probe/elf/symbols", "probe/elf/symtab_load": "probe/elf/symbols"}
BPF_HEADERS = {"gc.h", "http.h", "discover.h", "filter.h", "sample.h"}
INCLUDE = re.compile(r'^#include "([^"]+)"', re.M)


def folder_of(rel):
    d = os.path.dirname(rel)
    return d if d else "."


def main():
    files = {}
    for root, _, names in os.walk(SRC):
        for n in names:
            if n.endswith((".c", ".h")):
                rel = os.path.relpath(os.path.join(root, n), SRC)
                with open(os.path.join(root, n)) as f:
                    files[rel] = INCLUDE.findall(f.read())
    bad = []
    graph = {}
    for rel, incs in sorted(files.items()):
        here = folder_of(rel)
        mod = os.path.splitext(rel)[0]
        mod = ONE_MODULE.get(mod, mod)
        for inc in incs:
            if inc in BPF_HEADERS:
                there = "bpf"
            elif inc in files:
                there = folder_of(inc)
                other = os.path.splitext(inc)[0]
                other = ONE_MODULE.get(other, other)
                if other != mod:
                    graph.setdefault(mod, set()).add(other)
            elif inc.endswith(".skel.h"):
                there = "bpf"
            else:
                bad.append(f"{rel}: includes \"{inc}\", which is no header of src/ or bpf/")
                continue
            if there != here and there not in RULES.get(here, set()):
                bad.append(f"{rel}: {here}/ may not include {there}/ (\"{inc}\")")
    # Cycles between modules (Tarjan's strongly connected components).
    index, low, stack, on, sccs = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                sccs.append(sorted(comp))

    sys.setrecursionlimit(10000)
    for v in sorted(graph):
        if v not in index:
            visit(v)
    for comp in sccs:
        bad.append("modules that include each other: " + ", ".join(comp))
    for line in bad:
        print(f"check-layers: {line}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
