#!/usr/bin/env bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# Traces a demo workload from start to exit and prints gcpause's text report. `make demo`
# builds gcpause and runs this from the repository root; it needs root for BPF and uprobes.
set -euo pipefail

cd "$(dirname "$0")/.."

GCPAUSE=${GCPAUSE:-build/gcpause}
PYTHON=${PYTHON:-/usr/bin/python3.11}

if [ "$(id -u)" -ne 0 ]; then
	echo "demo: gcpause needs root (BPF programs, uprobes); run as root" >&2
	exit 1
fi
if [ ! -x "$GCPAUSE" ]; then
	echo "demo: $GCPAUSE is missing; run make first" >&2
	exit 1
fi

# Five seconds of cyclic garbage over a 200k-object long-lived heap, which makes full (gen 2)
# collections pause for several milliseconds, plus an explicit gc.collect() of each generation
# every 100 rounds so that every generation shows up in the report.
exec "$GCPAUSE" -- "$PYTHON" tests/workloads/gc_workload.py \
	--seconds 5 --heap 200000 --explicit --explicit-every 100
