#!/usr/bin/env bash
# The one test command: builds socket-proxy and runs every test, unit and integration, then (without arguments)
# the allocation check: scripts/check-allocations.sh, which fails if a proxied request allocates.
#
#   scripts/test.sh [swift test arguments...]     e.g. scripts/test.sh --filter IntegrationTests
#
# The integration tests need a real Docker daemon. This script provides one unless SOCKET_PROXY_TEST_DOCKER_SOCKET
# already names it: as root with dockerd installed it starts a private dockerd in /tmp, else it uses a daemon
# answering on /var/run/docker.sock. It also starts systemd-journald in the background when none runs (best
# effort; the audit tests need it). Whatever it starts, it stops when it exits.
#
# --scratch-path and -c/--configuration among the arguments are given to `swift build` too, so that the
# socket-proxy binary lands next to the test binaries where the tests look for it.
# SOCKET_PROXY_TEST_SKIP_ALLOCATIONS=1 skips the allocation check.
# SOCKET_PROXY_TEST_SKIP_LARGE=1 skips the 1 GiB transfer test and the forty-four concurrent 100 MiB transfers of
# FaultTests (that one took six minutes on two busy cores; shown as skipped). The other fault tests take about
# three minutes and always run.
set -euo pipefail

cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib/services.sh
source scripts/lib/services.sh
SERVICES_LOG_PREFIX="scripts/test.sh"

if ! command -v swift >/dev/null 2>&1 && [[ -x /opt/swift/usr/bin/swift ]]; then
    export PATH="/opt/swift/usr/bin:$PATH"
fi

cleanup() {
    local status=$?
    stop_private_dockerd
    stop_journald
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# The build must use the same build folder and configuration as the tests.
build_arguments=()
arguments=("$@")
for ((i = 0; i < ${#arguments[@]}; i++)); do
    case "${arguments[i]}" in
        --scratch-path | -c | --configuration)
            if ((i + 1 < ${#arguments[@]})); then build_arguments+=("${arguments[i]}" "${arguments[i + 1]}"); fi
            ;;
        --scratch-path=* | --configuration=*)
            build_arguments+=("${arguments[i]}")
            ;;
    esac
done

if [[ -n "${SOCKET_PROXY_TEST_DOCKER_SOCKET:-}" ]]; then
    if docker_socket_answers "$SOCKET_PROXY_TEST_DOCKER_SOCKET"; then
        services_log "using the Docker daemon on $SOCKET_PROXY_TEST_DOCKER_SOCKET (SOCKET_PROXY_TEST_DOCKER_SOCKET)"
    else
        services_log "SOCKET_PROXY_TEST_DOCKER_SOCKET=$SOCKET_PROXY_TEST_DOCKER_SOCKET does not answer:" \
            "the integration tests will fail"
    fi
elif [[ $(id -u) -eq 0 ]] && find_dockerd >/dev/null; then
    start_private_dockerd
elif docker_socket_answers /var/run/docker.sock; then
    export SOCKET_PROXY_TEST_DOCKER_SOCKET=/var/run/docker.sock
    services_log "using the Docker daemon on /var/run/docker.sock"
else
    services_log "no Docker daemon: the integration tests will fail (set SOCKET_PROXY_TEST_DOCKER_SOCKET, or run" \
        "as root with dockerd installed)"
fi

start_journald_if_missing

services_log "swift build ${build_arguments[*]:-}"
swift build ${build_arguments[@]+"${build_arguments[@]}"}
services_log "swift test $*"
swift test "$@"
# A count, not a time: zero heap allocations per proxied request on a keep-alive connection. It builds the
# benchmarks in release mode (a few minutes), so it runs only for the whole suite.
if [[ $# -eq 0 && "${SOCKET_PROXY_TEST_SKIP_ALLOCATIONS:-}" != 1 ]]; then
    services_log "scripts/check-allocations.sh"
    scripts/check-allocations.sh
fi
