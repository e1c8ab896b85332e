#!/usr/bin/env bash
# Builds the socket-proxy container image without a registry: makes both base images locally, then builds the
# Dockerfile against them.
#
#   scripts/build-image-offline.sh [--rebuild-bases] TAG
#
# 1. The runtime base: a Debian 12 (bookworm) minbase root file system made with debootstrap and trimmed the way
#    debian:bookworm-slim is (no documentation, manual pages or locales), imported with `docker import`.
# 2. The builder base: a Debian 12 minbase with the packages `swift build` needs (BUILDER_PACKAGES below), a copy
#    of the Swift toolchain (SWIFT_DIR, default /opt/swift, without the debugger, the IDE tools and the embedded
#    standard library, which a build does not use) and of the local package mirror (SWIFT_PACKAGES_DIR, default
#    /opt/swift-packages), with the same git `insteadOf` rewrite in its /etc/gitconfig, so that Swift packages
#    resolve without the network. Imported with `docker import`.
# 3. `docker build` (classic builder) with --build-arg BUILDER_IMAGE=... --build-arg RUNTIME_IMAGE=...
#
# The base images are cached in the daemon: each is made only when it is missing (its tag carries a digest of
# what goes into it: the package list, the toolchain version, the mirror's repositories) or with --rebuild-bases.
#
# Needs: root (debootstrap), debootstrap, a reachable Debian mirror (DEBIAN_MIRROR, default deb.debian.org) the
# first time, and a Docker daemon: the one DOCKER_HOST names, else the default. Prints how long each step took and
# the image size.
set -euo pipefail
cd "$(dirname "$0")/.."

usage() {
    echo "usage: $0 [--rebuild-bases] TAG" >&2
    exit 2
}

rebuild_bases=false
tag=""
for argument in "$@"; do
    case "$argument" in
        --rebuild-bases) rebuild_bases=true ;;
        -h | --help) usage ;;
        -*) usage ;;
        *) if [[ -n "$tag" ]]; then usage; fi; tag="$argument" ;;
    esac
done
[[ -n "$tag" ]] || usage

SWIFT_DIR=${SWIFT_DIR:-/opt/swift}
SWIFT_PACKAGES_DIR=${SWIFT_PACKAGES_DIR:-/opt/swift-packages}
DEBIAN_MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
SUITE=bookworm
# Where the root file systems are put together; each is removed once imported.
WORK_ROOT=${SOCKET_PROXY_IMAGE_WORK:-/var/tmp}

# What `swift build --static-swift-stdlib` of this package needs besides the toolchain, found by trying:
#   libc6-dev, libgcc-12-dev, libstdc++-12-dev, binutils: crt files, libc, libgcc, libstdc++ and `ld` for linking;
#   libsystemd-dev, pkg-config: the CSystemd module; git: SwiftPM clones dependencies (from the local mirror);
#   libcurl4, libxml2: swift-build and swift-package load FoundationNetworking and FoundationXML;
#   libsqlite3-0, libncurses6: swift-build, swift-driver and swift-build-tool link them.
# Not needed for a build, though the official image has them: libpython3-dev and libedit2 (lldb), tzdata, unzip,
# ca-certificates (no network), libz3-dev, zlib1g-dev (zlib1g is in minbase).
BUILDER_PACKAGES=libc6-dev,libgcc-12-dev,libstdc++-12-dev,binutils,libsystemd-dev,pkg-config,git,libcurl4,libxml2,libsqlite3-0,libncurses6
# Parts of the toolchain a build does not run (1.6 GB of 3.3 GB): the debugger, the language server, docc,
# swift-format, the embedded standard library.
TOOLCHAIN_EXCLUDES=(
    usr/bin/lldb usr/bin/lldb-server usr/bin/lldb-dap usr/bin/lldb-argdumper usr/bin/sourcekit-lsp usr/bin/clangd
    usr/bin/docc usr/bin/swift-format usr/bin/wasmkit
    'usr/lib/liblldb.so*' usr/lib/libsourcekitdInProc.so 'usr/lib/libSwiftSourceKit*' usr/lib/swift/embedded
    usr/share/docc usr/share/doc usr/share/man
)

log() { printf '== build-image-offline: %s\n' "$*" >&2; }
die() { printf 'build-image-offline: %s\n' "$*" >&2; exit 1; }
elapsed() { local seconds=$(($(date +%s) - $1)); printf '%dm%02ds' $((seconds / 60)) $((seconds % 60)); }

[[ $(id -u) -eq 0 ]] || die "debootstrap needs root"
command -v debootstrap >/dev/null || die "debootstrap is not installed (apt-get install debootstrap)"
command -v docker >/dev/null || die "the docker CLI is not installed"
docker version --format '{{.Server.Version}}' >/dev/null || die "no Docker daemon answers (DOCKER_HOST=${DOCKER_HOST:-unset})"
[[ -x "$SWIFT_DIR/usr/bin/swift" ]] || die "no Swift toolchain at SWIFT_DIR=$SWIFT_DIR"
[[ -d "$SWIFT_PACKAGES_DIR" ]] || die "no package mirror at SWIFT_PACKAGES_DIR=$SWIFT_PACKAGES_DIR"

swift_version=$("$SWIFT_DIR/usr/bin/swift" --version 2>/dev/null | sed -n 's/.*Swift version \([0-9.]*\).*/\1/p' | head -1)
[[ -n "$swift_version" ]] || die "cannot tell the version of $SWIFT_DIR/usr/bin/swift"
digest() { sha256sum | cut -c1-12; }
runtime_digest=$(printf '%s\n' "$SUITE" minbase slim-v1 | digest)
builder_digest=$({
    printf '%s\n' "$SUITE" "$BUILDER_PACKAGES" "$swift_version" "${TOOLCHAIN_EXCLUDES[@]}"
    (cd "$SWIFT_PACKAGES_DIR" && find . -mindepth 2 -maxdepth 2 -type d | sort)
} | digest)
RUNTIME_BASE=socket-proxy-base/runtime:$SUITE-$runtime_digest
BUILDER_BASE=socket-proxy-base/builder:swift-$swift_version-$SUITE-$builder_digest

image_exists() { docker image inspect "$1" >/dev/null 2>&1; }

work=""
cleanup() {
    if [[ -n "$work" && -d "$work" ]]; then
        for mount in "$work"/rootfs/proc "$work"/rootfs/sys; do
            if mountpoint -q "$mount" 2>/dev/null; then umount -l "$mount" || true; fi
        done
        rm -rf "$work"
    fi
}
trap cleanup EXIT

# Removes what debian:bookworm-slim leaves out, and keeps dpkg from installing it again.
slim() {
    local root=$1
    mkdir -p "$root/etc/dpkg/dpkg.cfg.d"
    cat >"$root/etc/dpkg/dpkg.cfg.d/docker" <<'EOF'
# As in debian:bookworm-slim: no documentation, manual pages or translations.
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
EOF
    find "$root/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete 2>/dev/null || true
    find "$root/usr/share/doc" -mindepth 1 -type d -empty -delete 2>/dev/null || true
    rm -rf "$root"/usr/share/{man,groff,info,lintian,linda}/* 2>/dev/null || true
    find "$root/usr/share/locale" -mindepth 1 -maxdepth 1 -not -name locale.alias -exec rm -rf {} + 2>/dev/null || true
    rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin "$root"/var/cache/apt/archives/*.deb \
        "$root"/var/cache/debconf/*-old "$root"/var/log/*.log "$root"/var/log/apt/* "$root"/tmp/* 2>/dev/null || true
}

bootstrap() {
    local root=$1
    shift
    log "debootstrap $* $SUITE $root"
    debootstrap --variant=minbase "$@" "$SUITE" "$root" "$DEBIAN_MIRROR" >"$work/debootstrap.log" 2>&1 ||
        { tail -20 "$work/debootstrap.log" >&2; die "debootstrap failed (log above)"; }
}

import_rootfs() {
    local root=$1 image=$2
    shift 2
    log "docker import $image"
    tar --numeric-owner --xattrs -C "$root" -cf - . | docker import "$@" - "$image" >/dev/null
}

make_runtime_base() {
    local started
    started=$(date +%s)
    work=$(mktemp -d "$WORK_ROOT/socket-proxy-runtime.XXXXXX")
    bootstrap "$work/rootfs"
    slim "$work/rootfs"
    import_rootfs "$work/rootfs" "$RUNTIME_BASE" --change 'CMD ["bash"]' \
        --message "Debian $SUITE minbase, trimmed like debian:$SUITE-slim (scripts/build-image-offline.sh)"
    cleanup
    work=""
    log "runtime base $RUNTIME_BASE made in $(elapsed "$started")"
}

make_builder_base() {
    local started exclude_arguments=()
    started=$(date +%s)
    work=$(mktemp -d "$WORK_ROOT/socket-proxy-builder.XXXXXX")
    bootstrap "$work/rootfs" --include="$BUILDER_PACKAGES"
    slim "$work/rootfs"
    log "copying the toolchain $SWIFT_DIR and the package mirror $SWIFT_PACKAGES_DIR"
    for pattern in "${TOOLCHAIN_EXCLUDES[@]}"; do exclude_arguments+=("--exclude=./$pattern"); done
    mkdir -p "$work/rootfs/opt/swift" "$work/rootfs/opt/swift-packages"
    tar -C "$SWIFT_DIR" "${exclude_arguments[@]}" -cf - . | tar -C "$work/rootfs/opt/swift" -xf -
    tar -C "$SWIFT_PACKAGES_DIR" -cf - . | tar -C "$work/rootfs/opt/swift-packages" -xf -
    cat >"$work/rootfs/etc/gitconfig" <<'EOF'
# Swift packages resolve from the local mirror: every GitHub URL is rewritten to /opt/swift-packages.
[url "/opt/swift-packages/"]
	insteadOf = https://github.com/
	insteadOf = git@github.com:
	insteadOf = ssh://git@github.com/
[safe]
	directory = *
EOF
    import_rootfs "$work/rootfs" "$BUILDER_BASE" \
        --change 'ENV PATH=/opt/swift/usr/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
        --change 'CMD ["bash"]' \
        --message "Debian $SUITE minbase with Swift $swift_version and a local package mirror (scripts/build-image-offline.sh)"
    cleanup
    work=""
    log "builder base $BUILDER_BASE made in $(elapsed "$started")"
}

total_started=$(date +%s)
if $rebuild_bases || ! image_exists "$RUNTIME_BASE"; then
    make_runtime_base
else
    log "runtime base $RUNTIME_BASE is cached"
fi
if $rebuild_bases || ! image_exists "$BUILDER_BASE"; then
    make_builder_base
else
    log "builder base $BUILDER_BASE is cached"
fi

build_started=$(date +%s)
log "docker build -t $tag (BUILDER_IMAGE=$BUILDER_BASE RUNTIME_IMAGE=$RUNTIME_BASE)"
DOCKER_BUILDKIT=0 docker build \
    --build-arg "BUILDER_IMAGE=$BUILDER_BASE" \
    --build-arg "RUNTIME_IMAGE=$RUNTIME_BASE" \
    -t "$tag" .
log "docker build took $(elapsed "$build_started")"

# The classic builder keeps the build stage's layers as untagged images: they make the next build of unchanged
# sources instant, and cost a toolchain-sized copy each on the vfs driver (`docker image prune` removes them).
size=$(docker image inspect --format '{{.Size}}' "$tag")
log "image $tag: $((size / 1000 / 1000)) MB ($size bytes); binary: $(docker run --rm --entrypoint /bin/ls "$tag" -l /usr/local/bin/socket-proxy | awk '{print $5}') bytes"
log "total $(elapsed "$total_started")"
