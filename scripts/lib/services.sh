# Shell helpers shared by scripts/test.sh and .ci/run: a private dockerd and a background systemd-journald,
# each started only when needed and stopped by whoever started it. Source this file; it defines functions only.
#
#   start_private_dockerd       starts dockerd in a fresh /tmp folder, waits until it answers, and exports
#                               SOCKET_PROXY_TEST_DOCKER_SOCKET; sets SERVICES_DOCKERD_PID and SERVICES_DOCKERD_DIR
#   stop_private_dockerd        stops it (SIGTERM, then SIGKILL after 30 s) and removes its folder
#   start_journald_if_missing   starts systemd-journald in the background when none runs and the binary exists
#                               (best effort); sets SERVICES_JOURNALD_PID when it started one
#   stop_journald               stops a journald that start_journald_if_missing started
#   docker_socket_answers SOCK  true when a Docker daemon answers GET /_ping on that Unix socket

SERVICES_DOCKERD_PID=""
SERVICES_DOCKERD_DIR=""
SERVICES_JOURNALD_PID=""
SERVICES_JOURNALD_LOG=""

services_log() {
    printf '%s: %s\n' "${SERVICES_LOG_PREFIX:-services}" "$*" >&2
}

docker_socket_answers() {
    local socket=$1
    [[ -S "$socket" ]] || return 1
    if command -v curl >/dev/null 2>&1; then
        [[ "$(curl --silent --max-time 5 --unix-socket "$socket" http://docker/_ping 2>/dev/null)" == "OK" ]]
    else
        DOCKER_HOST="unix://$socket" DOCKER_CONFIG=/nonexistent timeout 10 docker version >/dev/null 2>&1
    fi
}

find_dockerd() {
    command -v dockerd 2>/dev/null || { [[ -x /usr/sbin/dockerd ]] && echo /usr/sbin/dockerd; } || return 1
}

start_private_dockerd() {
    local dockerd
    dockerd=$(find_dockerd) || { services_log "dockerd is not installed"; return 1; }
    # Short: a Unix socket path has at most 107 bytes.
    SERVICES_DOCKERD_DIR=$(mktemp -d /tmp/spd-XXXXXX)
    local socket="$SERVICES_DOCKERD_DIR/docker.sock"
    # No bridge, no iptables: containers run with --network none. vfs works on any filesystem, overlay in
    # overlay included. The containerd namespace is our own in case dockerd attaches to a system containerd.
    "$dockerd" \
        --host "unix://$socket" \
        --data-root "$SERVICES_DOCKERD_DIR/data" \
        --exec-root "$SERVICES_DOCKERD_DIR/exec" \
        --pidfile "$SERVICES_DOCKERD_DIR/docker.pid" \
        --iptables=false --ip-masq=false --bridge=none \
        --storage-driver=vfs \
        --containerd-namespace "socket-proxy-test-$$" \
        --containerd-plugins-namespace "socket-proxy-test-$$-plugins" \
        >"$SERVICES_DOCKERD_DIR/dockerd.log" 2>&1 </dev/null &
    SERVICES_DOCKERD_PID=$!
    local waited=0
    until docker_socket_answers "$socket"; do
        if ! kill -0 "$SERVICES_DOCKERD_PID" 2>/dev/null; then
            services_log "dockerd exited before answering; its log:"
            tail -n 40 "$SERVICES_DOCKERD_DIR/dockerd.log" >&2 || true
            SERVICES_DOCKERD_PID=""
            return 1
        fi
        if ((waited >= 120)); then
            services_log "dockerd did not answer on $socket within 60 s; its log:"
            tail -n 40 "$SERVICES_DOCKERD_DIR/dockerd.log" >&2 || true
            stop_private_dockerd
            return 1
        fi
        sleep 0.5
        waited=$((waited + 1))
    done
    export SOCKET_PROXY_TEST_DOCKER_SOCKET="$socket"
    services_log "started a private dockerd (pid $SERVICES_DOCKERD_PID, log $SERVICES_DOCKERD_DIR/dockerd.log)" \
        "on $socket"
}

stop_private_dockerd() {
    if [[ -n "$SERVICES_DOCKERD_PID" ]] && kill -0 "$SERVICES_DOCKERD_PID" 2>/dev/null; then
        services_log "stopping the private dockerd (pid $SERVICES_DOCKERD_PID)"
        kill -TERM "$SERVICES_DOCKERD_PID" 2>/dev/null || true
        local waited=0
        while kill -0 "$SERVICES_DOCKERD_PID" 2>/dev/null && ((waited < 60)); do
            sleep 0.5
            waited=$((waited + 1))
        done
        kill -KILL "$SERVICES_DOCKERD_PID" 2>/dev/null || true
        wait "$SERVICES_DOCKERD_PID" 2>/dev/null || true
    fi
    SERVICES_DOCKERD_PID=""
    if [[ -n "$SERVICES_DOCKERD_DIR" && -d "$SERVICES_DOCKERD_DIR" ]]; then
        # dockerd leaves its network namespace bind-mounted (exec/netns/default) when it exits; a mount point
        # cannot be removed, so unmount whatever is still mounted under the directory first, deepest first.
        local mountpoint
        while read -r mountpoint; do
            umount "$mountpoint" 2>/dev/null || umount -l "$mountpoint" 2>/dev/null || true
        done < <(awk -v dir="$SERVICES_DOCKERD_DIR/" 'index($2, dir) == 1 { print $2 }' /proc/self/mounts | sort -r)
        rm -rf "$SERVICES_DOCKERD_DIR" 2>/dev/null || services_log "could not remove all of $SERVICES_DOCKERD_DIR"
    fi
    SERVICES_DOCKERD_DIR=""
}

find_journald() {
    local candidate
    for candidate in /lib/systemd/systemd-journald /usr/lib/systemd/systemd-journald; do
        [[ -x "$candidate" ]] && { echo "$candidate"; return 0; }
    done
    return 1
}

start_journald_if_missing() {
    # The kernel truncates process names to 15 characters: systemd-journald shows as systemd-journal.
    if pgrep -x systemd-journal >/dev/null 2>&1; then
        services_log "systemd-journald is already running"
        return 0
    fi
    local journald
    if ! journald=$(find_journald); then
        services_log "systemd-journald is not installed: audit tests that need journald will fail"
        return 0
    fi
    if [[ $(id -u) -ne 0 ]]; then
        services_log "systemd-journald is not running and starting it needs root: audit tests may fail"
        return 0
    fi
    local log
    log=$(mktemp /tmp/journald-XXXXXX.log)
    SERVICES_JOURNALD_LOG=$log
    "$journald" >"$log" 2>&1 </dev/null &
    SERVICES_JOURNALD_PID=$!
    local waited=0
    until [[ -S /run/systemd/journal/socket ]] || ((waited >= 20)); do
        sleep 0.25
        waited=$((waited + 1))
    done
    if kill -0 "$SERVICES_JOURNALD_PID" 2>/dev/null; then
        services_log "started systemd-journald (pid $SERVICES_JOURNALD_PID, log $log)"
    else
        services_log "systemd-journald exited at once; its log:"
        cat "$log" >&2 || true
        SERVICES_JOURNALD_PID=""
    fi
}

stop_journald() {
    if [[ -n "$SERVICES_JOURNALD_PID" ]] && kill -0 "$SERVICES_JOURNALD_PID" 2>/dev/null; then
        services_log "stopping systemd-journald (pid $SERVICES_JOURNALD_PID)"
        kill -TERM "$SERVICES_JOURNALD_PID" 2>/dev/null || true
        wait "$SERVICES_JOURNALD_PID" 2>/dev/null || true
    fi
    SERVICES_JOURNALD_PID=""
    if [[ -n "$SERVICES_JOURNALD_LOG" ]]; then rm -f "$SERVICES_JOURNALD_LOG"; fi
    SERVICES_JOURNALD_LOG=""
}
