#!/usr/bin/env bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# make-rootfs.sh SUITE DIR [PACKAGES...]
#
# Debootstraps a minimal Debian root filesystem (--variant=minbase) of SUITE into DIR with
# PACKAGES added, once: DIR/.gcpause-rootfs records the suite and packages, and a later call
# with the same ones reuses DIR as it is. The end-to-end tests use it to get Debian's newer
# Pythons (python3.13-minimal from trixie, python3.14/3.15-minimal from forky), which carry the
# python:gc__start/gc__done markers, into a root a process can be chrooted into.
#
# The mirror is the Debian repository apt is configured with here (or $GCPAUSE_DEBIAN_MIRROR).
# Network steps have timeouts; the whole debootstrap is bounded by $GCPAUSE_ROOTFS_TIMEOUT
# seconds (default 900). Needs root.
#
# Exit status: 0 DIR is ready; 77 the mirror cannot be reached (or debootstrap is missing):
# nothing to be done here, tests skip; 78 SUITE or one of PACKAGES is not in the archive;
# 1 anything else (with the tail of DIR.log, debootstrap's output). Messages are one line.
set -euo pipefail

prog=make-rootfs
say() { echo "$prog: $*"; }
die() { local code=$1; shift; echo "$prog: $*" >&2; exit "$code"; }

[ $# -ge 2 ] || die 2 "usage: $0 SUITE DIR [PACKAGES...]"
suite=$1
dir=${2%/}
shift 2
# Sorted and deduplicated, so the stamp does not depend on the order given.
mapfile -t packages < <(printf '%s\n' "$@" | sed '/^$/d' | sort -u)
[ "$(id -u)" -eq 0 ] || die 1 "must run as root (debootstrap, chroot)"
command -v debootstrap >/dev/null || die 77 "debootstrap is not installed; cannot build $dir"

stamp_file=.gcpause-rootfs
want_stamp="suite=$suite variant=minbase packages=${packages[*]}"
have_stamp() { [ -f "$1/$stamp_file" ] && [ "$(cat "$1/$stamp_file")" = "$want_stamp" ]; }

mkdir -p "$(dirname "$dir")"
# One builder at a time per DIR; a second caller waits, then finds it built.
exec 9>"$dir.lock"
flock -w 1800 9 || die 1 "timed out waiting for another build of $dir"

if have_stamp "$dir"; then
	say "reusing $dir ($want_stamp)"
	exit 0
fi
if [ -e "$dir" ] && [ ! -f "$dir/$stamp_file" ] && [ -n "$(ls -A "$dir")" ]; then
	die 1 "$dir exists and was not made by this script; refusing to replace it"
fi

# The Debian (not -security) repository apt uses here: from apt's index targets, or else the
# first .../debian URI in the sources files.
mirror=${GCPAUSE_DEBIAN_MIRROR:-}
if [ -z "$mirror" ]; then
	# shellcheck disable=SC2016  # $(...) are apt's format fields, not shell
	mirror=$(apt-get indextargets --format '$(LABEL) $(REPO_URI)' 2>/dev/null |
		awk '$1 == "Debian" { print $2; exit }') || true
fi
if [ -z "$mirror" ]; then
	mirror=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list \
		/etc/apt/sources.list.d/*.sources 2>/dev/null | grep -v '^[[:space:]]*#' |
		grep -oE '(https?|ftp)://[^[:space:]]+/debian/?([[:space:]]|$)' | head -n 1 |
		tr -d '[:space:]') || true
fi
[ -n "$mirror" ] || die 77 "no Debian mirror in apt's configuration; cannot build $dir"
mirror=${mirror%/}

# debootstrap fetches with wget: bound every request, not only the whole run.
wgetrc=$(mktemp)
log=$dir.log
trap 'rm -f "$wgetrc"' EXIT
printf 'timeout = 30\ntries = 3\nwaitretry = 2\n' >"$wgetrc"
export WGETRC=$wgetrc

rc=0
wget -q -O /dev/null "$mirror/dists/$suite/Release" || rc=$?
case $rc in
0) ;;
8) die 78 "$mirror has no suite $suite (dists/$suite/Release: server error)" ;;
*) die 77 "cannot reach the Debian mirror $mirror (wget exit $rc); not building $dir" ;;
esac

# debootstrap 1.0.128 (bookworm) has no scripts for suites newer than trixie; they all
# bootstrap like sid.
script=/usr/share/debootstrap/scripts/$suite
[ -e "$script" ] || script=/usr/share/debootstrap/scripts/sid

partial=$dir.partial
# A build killed half-way leaves this behind; its mounts died with its namespace (below),
# and --one-file-system keeps rm inside build/ regardless.
rm -rf --one-file-system "$partial"
include=()
[ ${#packages[@]} -eq 0 ] || include=(--include="$(IFS=,; echo "${packages[*]}")")
say "debootstrapping $suite (minbase${packages[*]:+ + ${packages[*]}}) from $mirror into $dir"
start=$SECONDS
rc=0
# In its own mount namespace: the /proc and /sys debootstrap mounts in the target vanish
# with it, however it ends.
timeout -k 10 "${GCPAUSE_ROOTFS_TIMEOUT:-900}" \
	unshare --mount --propagation private \
	debootstrap --variant=minbase "${include[@]}" "$suite" "$partial" "$mirror" "$script" \
	>"$log" 2>&1 || rc=$?
if [ $rc -ne 0 ]; then
	rm -rf --one-file-system "$partial"
	if [ $rc -eq 124 ] || [ $rc -eq 137 ]; then
		die 77 "debootstrap of $suite timed out after ${GCPAUSE_ROOTFS_TIMEOUT:-900} s" \
			"(slow or unreachable mirror $mirror)"
	elif grep -q "Couldn't find these debs" "$log"; then
		die 78 "$suite has no $(sed -n "s/.*Couldn't find these debs: *//p" "$log" | head -n 1)"
	elif grep -qE "Failed getting release|Couldn't (download|get)|unable to resolve" "$log"
	then
		die 77 "download from $mirror failed while debootstrapping $suite (see $log)"
	fi
	tail -n 15 "$log" >&2 || true
	die 1 "debootstrap of $suite failed (exit $rc; see $log)"
fi

# What apt would need to install more is of no use here: drop the downloaded .debs and lists.
rm -rf "$partial"/var/cache/apt/archives/*.deb "$partial"/var/lib/apt/lists/*_Packages \
	"$partial"/var/lib/apt/lists/*_Release* "$partial"/var/lib/apt/lists/*_InRelease

for exe in "$partial"/usr/bin/python3.[0-9]*; do
	if [ ! -f "$exe" ] || [ -L "$exe" ]; then continue; fi
	case $exe in *-config) continue ;; esac
	if ! command -v readelf >/dev/null; then
		break
	elif notes=$(readelf -n "$exe" 2>/dev/null) && grep -q 'Name: gc__start' <<<"$notes" &&
		grep -q 'Name: gc__done' <<<"$notes"; then
		say "${exe#"$partial"} has the python:gc__start/gc__done markers"
	else
		say "warning: ${exe#"$partial"} has no python:gc__start/gc__done markers"
	fi
done

echo "$want_stamp" >"$partial/$stamp_file"
if [ -e "$dir" ]; then
	# Ours (stamped, other packages) or empty: checked above.
	rm -rf --one-file-system "$dir"
fi
mv "$partial" "$dir"
say "built $dir in $((SECONDS - start)) s, $(du -sh "$dir" | cut -f1)"
