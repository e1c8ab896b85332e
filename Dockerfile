# socket-proxy: a policy-checking proxy for the Docker Engine API socket, as a drop-in replacement for the
# tecnativa/docker-socket-proxy image (same variables, same defaults, port 2375).
#
#   docker build -t socket-proxy .
#   docker run -d --name socket-proxy --read-only --cap-drop ALL --security-opt no-new-privileges \
#       --group-add "$(stat -c %g /var/run/docker.sock)" -v /var/run/docker.sock:/var/run/docker.sock \
#       -e CONTAINERS=1 -p 127.0.0.1:2375:2375 socket-proxy
#
# The proxy runs as user 10001 and reaches the socket through the socket's group, whose id differs from host to host:
# pass it with --group-add (compose: group_add). It needs no capability, no --privileged and no writable file.
#
# Without a registry, scripts/build-image-offline.sh makes both base images locally and builds this file with
# --build-arg BUILDER_IMAGE=... --build-arg RUNTIME_IMAGE=... (Docs/quick-start.md). It works with the classic
# builder (DOCKER_BUILDKIT=0) as well as BuildKit. Every instruction of the build stage copies the whole toolchain
# on the vfs storage driver, so that stage has exactly two: COPY and one RUN.

# The Swift toolchain image: the official one, or any Debian 12 image with Swift on the PATH, git, pkg-config,
# libsystemd-dev and the C toolchain (libc6-dev, libgcc-12-dev, libstdc++-12-dev, binutils).
ARG BUILDER_IMAGE=swift:6.3-bookworm
# The base of the final image: Debian 12, whose essential packages already hold everything the binary links
# dynamically (libc6, libstdc++6, libgcc-s1, libsystemd0).
ARG RUNTIME_IMAGE=debian:bookworm-slim

FROM ${BUILDER_IMAGE} AS build
COPY . /src
# libsystemd-dev is the one build dependency the official image lacks; an image that has it (the offline builder)
# needs no network here. The Swift standard library is linked statically; libsystemd stays dynamic (it comes with
# the runtime base). Debug information is stripped, the symbol table kept for crash backtraces. .build is removed
# so that the layer stays small.
RUN set -eu; \
    if ! pkg-config --exists libsystemd 2>/dev/null; then \
        apt-get update; \
        DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends libsystemd-dev pkg-config; \
        rm -rf /var/lib/apt/lists/*; \
    fi; \
    cd /src; \
    swift build -c release --static-swift-stdlib --product socket-proxy; \
    install -D -m 0755 "$(swift build -c release --static-swift-stdlib --show-bin-path)/socket-proxy" \
        /out/socket-proxy; \
    strip --strip-debug /out/socket-proxy; \
    rm -rf /src/.build

FROM ${RUNTIME_IMAGE}
LABEL org.opencontainers.image.title="socket-proxy" \
      org.opencontainers.image.description="A policy-checking proxy for the Docker Engine API socket; a drop-in replacement for tecnativa/docker-socket-proxy"

# A user of its own, with no home and no shell. It reaches the Docker socket through the socket's group, which
# `docker run --group-add "$(stat -c %g /var/run/docker.sock)"` (compose: group_add) gives it.
RUN useradd --no-log-init --uid 10001 --user-group --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin socket-proxy

COPY --from=build /out/socket-proxy /usr/local/bin/socket-proxy

# The tecnativa/docker-socket-proxy image's variables, with its defaults. Every other variable (ALLOW_ARCHIVE,
# INSPECT, ALLOW_BIND_MOUNTS, MODE, ...) keeps the binary's default; see Docs/configuration.md.
ENV ALLOW_RESTARTS=0 \
    ALLOW_STOP=0 \
    ALLOW_START=0 \
    AUTH=0 \
    BUILD=0 \
    COMMIT=0 \
    CONFIGS=0 \
    CONTAINERS=0 \
    DISABLE_IPV6=0 \
    DISTRIBUTION=0 \
    EVENTS=1 \
    EXEC=0 \
    GRPC=0 \
    IMAGES=0 \
    INFO=0 \
    LOG_LEVEL=info \
    NETWORKS=0 \
    NODES=0 \
    PING=1 \
    PLUGINS=0 \
    POST=0 \
    SECRETS=0 \
    SERVICES=0 \
    SESSION=0 \
    SOCKET_PATH=/var/run/docker.sock \
    SWARM=0 \
    SYSTEM=0 \
    TASKS=0 \
    VERSION=1 \
    VOLUMES=0 \
    LISTEN=*:2375

USER 10001:10001
EXPOSE 2375
# SIGTERM (the default STOPSIGNAL) stops accepting, ends streams and lets running requests finish within the
# grace period. 8 s leaves room inside `docker stop`'s default 10 s before SIGKILL; arguments given to
# `docker run IMAGE ...` replace this CMD, and then the binary's default (10 s) applies.
ENTRYPOINT ["/usr/local/bin/socket-proxy"]
CMD ["serve", "--grace-period", "8"]
# Asks the proxy for /_ping (on the first LISTEN address; *:2375 is asked on 127.0.0.1), and the daemon's socket
# directly when the policy denies /_ping. No curl needed.
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
    CMD ["/usr/local/bin/socket-proxy", "healthcheck"]
