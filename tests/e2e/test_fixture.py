# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""gcpause against sdt_markers, a C program with CPython's GC markers.

The fixture fires python:gc__start / python:gc__done on command, which gives
cases an interpreter cannot produce on demand: exact durations, nesting,
negative counts, event storms, and a direct look at the marker semaphores.
"""

import signal
import time

import pytest

from conftest import Gcpause, SdtFixture, check_summary, event_end

BURST = 20000


def wait_semaphores(fx, want, timeout=5.0):
    """Polls the fixture's semaphores until they equal `want`.

    The kernel drops its reference counts when the uprobes are unregistered,
    which can lag the tracer's exit slightly.
    """
    deadline = time.monotonic() + timeout
    while True:
        sems = fx.semaphores()
        if sems == want or time.monotonic() > deadline:
            return sems
        time.sleep(0.05)


@pytest.fixture
def fixture_proc(procs, sdt_fixture):
    fx = SdtFixture(procs)
    try:
        yield fx
    finally:
        if fx.proc.poll() is None:
            try:
                fx.proc.stdin.write("exit\n")
                fx.proc.stdin.flush()
                fx.proc.wait(5)
            except Exception:
                pass


def test_durations_nesting_semaphores(procs, fixture_proc):
    fx = fixture_proc
    assert fx.semaphores() == (0, 0), "semaphores set before any tracer attached"
    gp = Gcpause(procs, ["-p", fx.pid])
    attach = gp.wait_attach(fx.pid)
    assert attach["probe"] == "usdt"
    assert attach["binary"].endswith("sdt_markers"), attach
    start_sem, done_sem = fx.semaphores()
    assert start_sem > 0 and done_sem > 0, \
        f"semaphores not raised while attached: {(start_sem, done_sem)}"

    # (gen, busy-wait us, collected): sequential collections of known length.
    seqs = [(0, 2000, 5), (1, 500, 0), (2, 8000, -3)]
    measured = [fx.cmd(f"seq {g} {us} {c}") for g, us, c in seqs]
    t = fx.cmd("nest 1 2 7 -9")

    assert gp.stop() == 0
    events = gp.events(fx.pid)
    assert len(events) == len(seqs) + 2, f"expected {len(seqs) + 2} events, got {events}"

    for (gen, us, collected), (t0, t1) in zip(seqs, measured):
        found = [e for e in events if t0 <= e["start_ns"] and event_end(e) <= t1]
        assert len(found) == 1, f"seq {gen} {us} {collected} in [{t0}, {t1}]: {found}"
        e = found[0]
        assert (e["gen"], e["collected"], e["depth"]) == (gen, collected, 0), e
        assert e["tid"] == fx.pid
        # The busy wait sits between the two markers.
        assert us * 1000 <= e["duration_ns"] <= t1 - t0, e

    # nest 1 2 7 -9: outer gen 1 (collected 7) around inner gen 2 (collected -9).
    t0, t1, t2, t3, t4 = t
    nested = [e for e in events if t0 <= e["start_ns"] and event_end(e) <= t4]
    outer = [e for e in nested if e["depth"] == 0]
    inner = [e for e in nested if e["depth"] == 1]
    assert len(outer) == 1 and len(inner) == 1, f"nested events: {nested}"
    outer, inner = outer[0], inner[0]
    assert (outer["gen"], outer["collected"]) == (1, 7), outer
    assert (inner["gen"], inner["collected"]) == (2, -9), inner
    assert t0 <= outer["start_ns"] <= t1 and t3 <= event_end(outer) <= t4, (t, outer)
    assert t1 <= inner["start_ns"] <= t2 and t2 <= event_end(inner) <= t3, (t, inner)

    total = gp.total()
    assert total["dropped_events"] == 0
    assert all(v == 0 for v in total["lost"].values()), total["lost"]
    check_summary(total, fx.pid, events, exited=False)

    # gcpause is gone: the semaphores must be back to zero, and the target
    # must not have noticed anything.
    assert wait_semaphores(fx, (0, 0)) == (0, 0), "semaphores left raised after gcpause exited"
    t0, t1 = fx.cmd("seq 0 10 1")
    assert t1 > t0


def test_sigkill_releases_semaphores(procs, fixture_proc):
    fx = fixture_proc
    gp = Gcpause(procs, ["-p", fx.pid])
    gp.wait_attach(fx.pid)
    sems = fx.semaphores()
    assert sems[0] > 0 and sems[1] > 0, sems
    gp.proc.kill()
    gp.wait(10)
    # No cleanup code ran, yet the kernel must still undo the increments.
    assert wait_semaphores(fx, (0, 0)) == (0, 0), "semaphores left raised after SIGKILL"
    # And the target keeps running, markers and all.
    fx.cmd("seq 0 100 1")
    fx.cmd("burst 100")
    assert fx.proc.poll() is None


def test_ring_buffer_drops_are_counted(procs, fixture_proc):
    fx = fixture_proc
    # One page of ring buffer holds well under a hundred events.
    gp = Gcpause(procs, ["--ringbuf-kb", "4", "-p", fx.pid])
    gp.wait_attach(fx.pid)
    gp.proc.send_signal(signal.SIGSTOP)
    try:
        fx.cmd(f"burst {BURST}", timeout=60)
    finally:
        gp.proc.send_signal(signal.SIGCONT)
    # Let gcpause drain what the ring buffer held before stopping it.
    last, stable_since = -1, time.monotonic()
    while time.monotonic() - stable_since < 0.5:
        n = len(gp.events(fx.pid))
        if n != last:
            last, stable_since = n, time.monotonic()
        time.sleep(0.05)
    assert gp.stop() == 0
    events = gp.events(fx.pid)
    total = gp.total()
    dropped = total["dropped_events"]
    assert dropped > 0, "a 4 KiB ring buffer took a 20000-event burst without drops"
    assert len(events) + dropped == BURST, (
        f"{len(events)} events received + {dropped} dropped != {BURST} fired")
    assert total["lost"]["ringbuf_full"] == dropped, total["lost"]
    others = {k: v for k, v in total["lost"].items() if k != "ringbuf_full"}
    assert all(v == 0 for v in others.values()), others
    # The events that got through are intact: gen 0, distinct indexes.
    collected = [e["collected"] for e in events]
    assert all(e["gen"] == 0 and e["depth"] == 0 for e in events)
    assert len(set(collected)) == len(collected)
    assert all(0 <= c < BURST for c in collected)
    assert summary_count(total, fx.pid) == len(events)


def summary_count(total, pid):
    return next(p for p in total["processes"] if p["pid"] == pid)["all"]["count"]
