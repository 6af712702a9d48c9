#!/usr/bin/env bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# Installs the Debian packages gcpause needs to build and test. Idempotent: it only calls apt-get
# when something is missing, and never upgrades what is installed (a newer libpython3.11 would
# change the targets the tests trace).
#
# Usage: install-deps.sh [--build-only]
#   --build-only  only build_packages, what `make` needs for build/gcpause (the Dockerfile's
#                 build stage); without it, test_packages too (`make test`, `make demo`).
set -euo pipefail

build_only=0
for arg in "$@"; do
	case "$arg" in
	--build-only) build_only=1 ;;
	-h | --help)
		echo "usage: $0 [--build-only]"
		exit 0
		;;
	*)
		echo "install-deps: unknown option '$arg' (usage: $0 [--build-only])" >&2
		exit 2
		;;
	esac
done

# The one list, in two parts: a package is in exactly one of them.
build_packages=(
	make gcc clang llvm pkg-config	# build, BPF target, llvm-strip
	bpftool libbpf-dev		# skeletons, loader library
	libelf-dev zlib1g-dev		# ELF notes and symbols (libbpf needs them too)
	libdw-dev libdebuginfod-dev	# DWARF struct offsets, debug files from debuginfod
	liblzma-dev			# MiniDebugInfo (.gnu_debugdata is xz-compressed)
	libcapstone-dev			# disassembly, to find the GC function in stripped builds
	libjson-c-dev			# --json output
	libncurses-dev			# gcpause top
	libmicrohttpd-dev		# gcpause serve: the /metrics endpoint
)
test_packages=(
	binutils			# strip/objcopy for the stripped-build tests
	patchelf			# a debootstrapped root's interpreter run on the host (-- COMMAND)
	dwz				# a .gnu_debugaltlink file for the DWARF unit test
	debootstrap			# rootfs with newer Debian Pythons for the tests
	tmux				# gcpause top tests: a real terminal to drive and read
	libcmocka-dev			# unit tests
	systemtap-sdt-dev		# <sys/sdt.h> for the marker test fixture
	python3.11 libpython3.11 libpython3.11-dev	# traced targets, embedded-host fixture
	python3-pytest			# end-to-end test runner
	gunicorn python3-flask python3-gevent	# --http tests: WSGI servers (sync, gevent workers)
	uvicorn python3-uvloop		# --http tests: ASGI server, asyncio and libuv event loops
	python3-hypercorn python3-tornado	# --http and serve tests: two more servers, one a plain script
	uwsgi uwsgi-plugin-python3	# libpython loaded with dlopen (test_uwsgi.py)
	wrk				# --http tests: load generator
	bpftrace			# make bench: the markers' floor to compare with
	prometheus python3-yaml		# serve tests: a real scraper; deployment manifest checks
	util-linux procps		# setpriv (unprivileged test), ps
	docker.io			# the image built and run as the DaemonSet runs it (test_docker)
	chromium			# report --html: the page rendered headless, screenshot, DOM
)

packages=("${build_packages[@]}")
[ "$build_only" -eq 1 ] || packages+=("${test_packages[@]}")

missing=()
for pkg in "${packages[@]}"; do
	case "$pkg" in \#*) continue ;; esac
	status=$(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null || true)
	[ "$status" = installed ] || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	echo "install-deps: missing packages: ${missing[*]}; run as root to install them" >&2
	exit 1
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-upgrade --no-install-recommends "${missing[@]}" >/dev/null
