#!/usr/bin/env bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# docker-import-rootfs.sh [--slim] [--debian-sources] ROOT TAG
#
# Imports a root filesystem made by scripts/make-rootfs.sh as the Docker image TAG, once: the
# image is labelled with the root's stamp and this script's options, and an image with the same
# label is kept as it is (so an unchanged root keeps its image ID, and `docker build` its cache).
# No registry is needed: this is how the tests get `debian:bookworm` and `debian:bookworm-slim`
# for the Dockerfile where none can be pulled.
#
#   --slim            what the official -slim images leave out (debuerreotype's slimify): the
#                     dpkg path-excludes for documentation, manuals and translations, in
#                     /etc/dpkg/dpkg.cfg.d/docker, and the files they match
#   --debian-sources  the official images' APT sources: SUITE, SUITE-updates and
#                     SUITE-security from deb.debian.org, in deb822 form, for the root's suite
#
# Exit status: 0 TAG is ready; 1 with one line on stderr.
set -euo pipefail

prog="docker-import-rootfs"
die() { echo "$prog: $*" >&2; exit 1; }

slim=0
sources=0
while [ $# -gt 0 ]; do
	case $1 in
	--slim) slim=1 ;;
	--debian-sources) sources=1 ;;
	-*) die "unknown option '$1' (usage: $0 [--slim] [--debian-sources] ROOT TAG)" ;;
	*) break ;;
	esac
	shift
done
[ $# -eq 2 ] || die "usage: $0 [--slim] [--debian-sources] ROOT TAG"
root=${1%/}
tag=$2
docker=${DOCKER:-docker}

[ -f "$root/.gcpause-rootfs" ] || die "$root was not made by scripts/make-rootfs.sh"
# The root's stamp, these options and this script: any change makes a new image.
label="$(cat "$root/.gcpause-rootfs") slim=$slim sources=$sources script=$(sha256sum "$0" | cut -c1-16)"
have=$("$docker" image inspect --format '{{ index .Config.Labels "org.gcpause.rootfs" }}' \
	"$tag" 2>/dev/null) || true
if [ "$have" = "$label" ]; then
	echo "$prog: $tag is up to date"
	exit 0
fi

extra=$(mktemp -d)
trap 'rm -rf "$extra" "$extra.excludes"' EXIT
# Exact names (no wildcards), one a line.
excludes=$extra.excludes
echo ./.gcpause-rootfs >"$excludes"
added=()
if [ "$slim" -eq 1 ]; then
	mkdir -p "$extra/etc/dpkg/dpkg.cfg.d"
	cat >"$extra/etc/dpkg/dpkg.cfg.d/docker" <<-'EOF'
	# This is the "slim" variant of the Debian base image.
	# Many files which are normally unnecessary in containers are excluded,
	# and this configuration file keeps them that way.
	path-exclude /usr/share/doc/*
	path-include /usr/share/doc/*/copyright
	path-exclude /usr/share/groff/*
	path-exclude /usr/share/info/*
	path-exclude /usr/share/linda/*
	path-exclude /usr/share/lintian/*
	path-exclude /usr/share/locale/*
	path-include /usr/share/locale/locale.alias
	path-exclude /usr/share/man/*
	EOF
	added+=(etc/dpkg/dpkg.cfg.d/docker)
	# The same, for the files already there (copyright files and locale.alias stay).
	(cd "$root" && find ./usr/share/doc ./usr/share/man ./usr/share/groff ./usr/share/info \
		./usr/share/lintian ./usr/share/linda ./usr/share/locale -mindepth 1 \
		\( -type f -o -type l \) ! -name copyright ! -path ./usr/share/locale/locale.alias \
		2>/dev/null) >>"$excludes" || true
fi
if [ "$sources" -eq 1 ]; then
	# shellcheck disable=SC1091  # the root's own file
	suite=$(. "$root/etc/os-release" && echo "${VERSION_CODENAME:-}")
	[ -n "$suite" ] || die "$root/etc/os-release names no VERSION_CODENAME"
	mkdir -p "$extra/etc/apt/sources.list.d"
	cat >"$extra/etc/apt/sources.list.d/debian.sources" <<-EOF
	Types: deb
	URIs: http://deb.debian.org/debian
	Suites: $suite $suite-updates
	Components: main
	Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

	Types: deb
	URIs: http://deb.debian.org/debian-security
	Suites: $suite-security
	Components: main
	Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
	EOF
	added+=(etc/apt/sources.list.d/debian.sources)
	echo ./etc/apt/sources.list >>"$excludes"
fi

# One stream: the root (minus the excluded files), then the added files.
id=$(tar --numeric-owner --xattrs -C "$root" --no-wildcards --exclude-from="$excludes" -cf - . \
	${added[@]:+-C "$extra" "${added[@]}"} |
	"$docker" import --change 'CMD ["bash"]' --change "LABEL org.gcpause.rootfs=\"$label\"" \
		- "$tag") || die "docker import of $root as $tag failed"
echo "$prog: imported $root as $tag (${id#sha256:})"
