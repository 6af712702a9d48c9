#!/bin/bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# Stress of `gcpause serve --all --http` under an AddressSanitizer build: bursts of short-lived
# Python processes (some forking, some exec'd through sh, two pyenv versions), /bin/true, and
# scrapes in a loop; fails on any sanitizer report or a non-zero exit. `make e2e-asan` runs it
# (in CI) against build/asan/gcpause; by hand: make asan && tests/stress/fleet.sh
set -u
cd "$(dirname "$0")/../.."
G=${GCPAUSE:-build/asan/gcpause}
PORT=${PORT:-9551}
LOG=$(mktemp /tmp/gcpause-stress-XXXXXX.log)
PY=/usr/bin/python3.11
PYENV=(/root/.pyenv/versions/3.12.*/bin/python3.12 /root/.pyenv/versions/3.9.*/bin/python3.9)

ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1} "$G" serve --http --listen 127.0.0.1:$PORT --expire 2 --rescan 1 \
	2>"$LOG" &
agent=$!
for _ in $(seq 50); do curl -sf 127.0.0.1:$PORT/healthz >/dev/null && break; sleep 0.1; done
(for _ in $(seq 200); do curl -s 127.0.0.1:$PORT/metrics >/dev/null; sleep 0.02; done) &
scraper=$!
for round in 1 2 3; do
	for _ in $(seq 40); do $PY -c "import gc; gc.collect()" & done
	for _ in $(seq 20); do
		sh -c "exec $PY -c 'import os, gc; gc.collect(); os.fork() or gc.collect()'" &
	done
	for _ in $(seq 20); do /bin/true & done
	for py in "${PYENV[@]}"; do
		[ -x "$py" ] && "$py" -c "import gc, subprocess; gc.collect(); subprocess.run(['true'])" &
	done
	sleep 1.5
done
wait $scraper
sleep 3
curl -s 127.0.0.1:$PORT/metrics | grep -E '^gcpause_(processes_discovered|events_dropped)'
kill -TERM $agent
wait $agent
status=$?
if grep -qE 'ERROR: AddressSanitizer|ERROR: LeakSanitizer|runtime error' "$LOG" || [ $status -ne 0 ]; then
	echo "stress: FAILED (exit $status), see $LOG" >&2
	exit 1
fi
echo "stress: passed (log $LOG)"
