# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""`gcpause serve` keeps answering /metrics and /healthz while a slowloris attack runs.

A real attacker (tests/e2e/slowloris.py, another process) holds 192 connections to the agent
on loopback, each trickling one header line every 2 s and never ending its request, and opens a
new one for every one closed: 128 from sixteen other loopback addresses (more than the agent's
64 connections in all) and 64 from 127.0.0.1, the scraper's own address (more than its 8 per
client). Meanwhile scrapes and probes go on, each on a new connection with a 5 s timeout. Before
the per-connection deadlines, the per-client limit and eviction (docs/metrics.md), 0 of them
were answered.
"""

import json
import subprocess
import sys
import threading
import time

from conftest import PYTHON, REPO, popen
from prom import Scrape, fetch
from test_serve import Serve, tag  # noqa: F401 (a fixture)

ATTACK_S = 30
TRICKLE_S = 2
PROBE_EVERY_S = 0.5
PROBE_TIMEOUT_S = 5
OTHER_SOURCES = [f"127.0.0.{i}:8" for i in range(2, 18)]


def probe(url):
    t0 = time.monotonic()
    try:
        status, _, body = fetch(url, timeout=PROBE_TIMEOUT_S)
    except OSError as e:
        return None, repr(e), time.monotonic() - t0
    return status, body, time.monotonic() - t0


def test_slowloris_does_not_shut_out_scrapes(procs, tag):
    sv = Serve(procs, "--comm", f"{tag}-*")
    attacker = popen(procs, [PYTHON, REPO / "tests" / "e2e" / "slowloris.py", "127.0.0.1",
                             sv.port, ATTACK_S, TRICKLE_S, "127.0.0.1:64", *OTHER_SOURCES])
    assert attacker.stdout.readline().strip() == "started"
    time.sleep(3)   # every attacker connection is in, and has sent its first lines

    results = {"/healthz": [], "/metrics": []}
    end = time.monotonic() + ATTACK_S - 8
    while time.monotonic() < end:
        for path, got in results.items():
            got.append(probe(sv.url + path))
        time.sleep(PROBE_EVERY_S)

    out, err = attacker.communicate(timeout=ATTACK_S + 30)
    assert attacker.returncode == 0, err
    stats = json.loads(out.strip().splitlines()[-1])
    # The attack was one: far more connections than the agent takes, kept trickling.
    assert stats["opened"] >= 192 and stats["lines"] >= 192, stats

    answered = {p: [r for r in got if r[0] == 200] for p, got in results.items()}
    summary = {p: f"{len(answered[p])}/{len(got)} answered, slowest "
                  f"{max((r[2] for r in answered[p]), default=0):.2f}s"
               for p, got in results.items()}
    print(f"attacker {stats}; {summary}")
    for path, got in results.items():
        failed = [r for r in got if r[0] != 200]
        assert len(failed) <= len(got) // 20, \
            f"{path}: {summary[path]}; failures {failed[:5]}; attacker {stats}"
        assert len(got) >= 20, (path, len(got))
    assert all(r[1].strip() == "ok" for r in answered["/healthz"])
    for r in answered["/metrics"]:
        Scrape(r[1])    # a whole exposition, parsed
    # The agent is still itself: answering at once once the attack is over.
    status, _, body = fetch(sv.url + "/healthz", timeout=5)
    assert status == 200 and body.strip() == "ok"
    assert sv.stop() == 0, sv.lines()[-5:]
