#!/usr/bin/env bash
# Builds socket-proxy in release mode and runs it in front of the local Docker socket.
#
#   CONTAINERS=1 scripts/run.sh [socket-proxy arguments...]
#
# Installs the one build dependency (libsystemd-dev) first when it is missing and this runs as root on Debian or
# Ubuntu. Listens on 127.0.0.1:2375 unless told otherwise (--listen, LISTEN).
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v swift >/dev/null 2>&1 && [[ -x /opt/swift/usr/bin/swift ]]; then
    export PATH="/opt/swift/usr/bin:$PATH"
fi
if ! pkg-config --exists libsystemd 2>/dev/null; then
    if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
        echo "scripts/run.sh: installing libsystemd-dev" >&2
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libsystemd-dev pkg-config >&2
    else
        echo "scripts/run.sh: libsystemd-dev is missing; install it (apt-get install libsystemd-dev pkg-config)" >&2
        exit 1
    fi
fi
swift build -c release --product socket-proxy >&2
exec .build/release/socket-proxy "$@"
