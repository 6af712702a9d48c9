# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# gcpause container image: `gcpause serve --all` for the Kubernetes DaemonSet in deploy/kubernetes/.
#
#   docker build -t ghcr.io/gcpause/gcpause:0.1.0 .
#
# Two stages: the build stage installs the build's Debian packages through the same script the
# README uses (scripts/install-deps.sh --build-only) and runs `make`; the runtime stage is
# bookworm-slim with only the shared libraries build/gcpause links. Both stages are Debian 12
# (bookworm), so the binary runs against the very library versions it was built with.
# See docs/deploy.md.

# ---------------------------------------------------------------------------------------------
FROM debian:bookworm AS build

WORKDIR /src
# The dependency script alone first, so that editing the sources does not invalidate the
# (slow) package layer.
COPY scripts/install-deps.sh scripts/install-deps.sh
RUN ./scripts/install-deps.sh --build-only \
	&& rm -rf /var/lib/apt/lists/*
COPY . .
# vmlinux/x86/vmlinux.h is committed, so the build needs no BTF from the build host; the image
# is amd64 only (there is no vmlinux.h for other architectures in the tree).
RUN make -j"$(nproc)" \
	&& build/gcpause -V

# ---------------------------------------------------------------------------------------------
FROM debian:bookworm-slim

ARG VERSION=0.1.0
ARG REVISION=unknown
LABEL org.opencontainers.image.title="gcpause" \
	org.opencontainers.image.description="CPython garbage-collection pauses measured from outside the process (eBPF); Prometheus exporter for every Python process on a node" \
	org.opencontainers.image.version="${VERSION}" \
	org.opencontainers.image.revision="${REVISION}" \
	org.opencontainers.image.licenses="LGPL-2.1 OR BSD-2-Clause" \
	org.opencontainers.image.base.name="docker.io/library/debian:bookworm-slim" \
	org.opencontainers.image.documentation="docs/deploy.md"

# Exactly the packages of the libraries build/gcpause names (DT_NEEDED), libc6 aside;
# their own dependencies come with them. tests/e2e/test_deploy.py checks this line against
# `ldd build/gcpause`.
RUN apt-get update \
	&& apt-get install -y --no-install-recommends libbpf1 libelf1 libdw1 libdebuginfod1 liblzma5 libcapstone4 libjson-c5 libncursesw6 libtinfo6 libmicrohttpd12 zlib1g \
	&& rm -rf /var/lib/apt/lists/*

COPY --from=build /src/build/gcpause /usr/local/bin/gcpause

# Root on purpose: Kubernetes gives added capabilities to a non-root container process only
# in its bounding set, not its effective set (no ambient capabilities), so gcpause must be uid 0
# to hold CAP_BPF, CAP_PERFMON, ... The DaemonSet drops every other capability.
USER 0:0

# /metrics and /healthz (gcpause serve --listen).
EXPOSE 9547

ENTRYPOINT ["gcpause"]
CMD ["serve", "--all", "--listen", "0.0.0.0:9547"]
