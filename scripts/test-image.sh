#!/usr/bin/env bash
# Tests a built socket-proxy image against the local Docker daemon, the way Docs/quick-start.md runs it:
# the host's socket mounted, the socket's group added, a read-only root file system, no capabilities.
#
#   scripts/test-image.sh TAG
#
# The daemon is the one DOCKER_HOST names (unix:// only), else /var/run/docker.sock. The proxies run with
# `--network host` (so this works on daemons without a bridge network) on free loopback ports. Checks:
#   - the image's settings: user, exposed port, the Tecnativa defaults and LISTEN in its environment, the
#     HEALTHCHECK command;
#   - with CONTAINERS=1: `docker ps` and `docker version` through the proxy work; `docker run` is refused with
#     the socket-proxy message (POST=0); the proxy runs as uid 10001, not root; it logs to stderr;
#   - the container becomes healthy (HEALTHCHECK `socket-proxy healthcheck`; the interval is shortened to 2 s
#     here, the command is the image's);
#   - with CONTAINERS=1 POST=1: a plain `docker create` works, `docker create --privileged` and a bind mount of /
#     are refused by the body inspection;
#   - `docker stop` (SIGTERM, 10 s timeout) ends the proxy with status 0 within its grace period, also while a
#     `docker events` stream is open through it.
# Exits 0 when every check passed, 1 otherwise; removes its containers either way.
set -uo pipefail

tag=${1:?usage: $0 TAG}
case "${DOCKER_HOST:-}" in
    "") socket=/var/run/docker.sock ;;
    unix://*) socket=${DOCKER_HOST#unix://} ;;
    *) echo "test-image: DOCKER_HOST=$DOCKER_HOST: only a local unix:// daemon can be mounted into the container" >&2; exit 2 ;;
esac
[[ -S "$socket" ]] || { echo "test-image: no Docker socket at $socket" >&2; exit 2; }
direct=(docker --host "unix://$socket")
"${direct[@]}" image inspect "$tag" >/dev/null 2>&1 || { echo "test-image: no image $tag (build it first)" >&2; exit 2; }
gid=$(stat -c %g "$socket")

passed=0
failed=0
containers=()
pass() { passed=$((passed + 1)); printf 'ok    %s\n' "$*"; }
fail() { failed=$((failed + 1)); printf 'FAIL  %s\n' "$*"; }
check() { # check DESCRIPTION COMMAND...: passes when the command succeeds
    local description=$1
    shift
    if "$@"; then pass "$description"; else fail "$description"; fi
}
cleanup() {
    for name in "${containers[@]}"; do "${direct[@]}" rm -f "$name" >/dev/null 2>&1; done
}
trap cleanup EXIT

# A TCP port nothing listens on, from the kernel's list of listening sockets.
free_port() {
    local port
    for port in $(seq "$1" $(($1 + 200))); do
        if ! grep -qiE ":$(printf '%04X' "$port") [0-9A-F:]+ 0A " /proc/net/tcp /proc/net/tcp6 2>/dev/null; then
            echo "$port"
            return 0
        fi
    done
    return 1
}

# start NAME PORT [docker run options...]: runs the image as the quick start does, plus the options.
start() {
    local name=$1 port=$2
    shift 2
    containers+=("$name")
    "${direct[@]}" rm -f "$name" >/dev/null 2>&1
    "${direct[@]}" run -d --name "$name" --network host --read-only --cap-drop ALL \
        --security-opt no-new-privileges --group-add "$gid" -v "$socket:/var/run/docker.sock" \
        --health-interval 2s -e "LISTEN=127.0.0.1:$port" "$@" "$tag" >/dev/null
}

# wait_until SECONDS COMMAND...: true once the command succeeds.
wait_until() {
    local deadline=$(($(date +%s) + $1))
    shift
    until "$@" >/dev/null 2>&1; do
        (($(date +%s) < deadline)) || return 1
        sleep 0.2
    done
}

is_healthy() { test "$("${direct[@]}" inspect --format '{{.State.Health.Status}}' "$1")" = healthy; }

via() { # via PORT docker-arguments...: the docker CLI through the proxy on PORT
    local port=$1
    shift
    DOCKER_HOST=tcp://127.0.0.1:$port timeout 60 docker "$@"
}

suffix=$$
ro=socket-proxy-test-ro-$suffix
rw=socket-proxy-test-rw-$suffix
created=socket-proxy-test-created-$suffix
containers+=("$created")

echo "== test-image: $tag on $socket (socket group $gid)"

# The image itself.
config=$("${direct[@]}" image inspect --format '{{.Config.User}}|{{json .Config.ExposedPorts}}|{{json .Config.Healthcheck.Test}}|{{json .Config.Entrypoint}}' "$tag")
environment=$("${direct[@]}" image inspect --format '{{range .Config.Env}}{{println .}}{{end}}' "$tag")
check "runs as user 10001:10001 ($config)" test "${config%%|*}" = 10001:10001
check "exposes 2375/tcp" grep -q '"2375/tcp"' <<<"$config"
check "HEALTHCHECK runs socket-proxy healthcheck" grep -q '"CMD","/usr/local/bin/socket-proxy","healthcheck"' <<<"$config"
for setting in EVENTS=1 PING=1 VERSION=1 CONTAINERS=0 POST=0 LOG_LEVEL=info SOCKET_PATH=/var/run/docker.sock \
    'LISTEN=*:2375' DISABLE_IPV6=0 ALLOW_START=0 ALLOW_STOP=0 ALLOW_RESTARTS=0; do
    check "environment has $setting" grep -qxF "$setting" <<<"$environment"
done

# Read-only access: CONTAINERS=1.
port=$(free_port 23750) || { echo "test-image: no free port" >&2; exit 1; }
if ! start "$ro" "$port" -e CONTAINERS=1; then
    fail "docker run $tag (CONTAINERS=1)"
else
    if wait_until 30 via "$port" version; then pass "the proxy answers on 127.0.0.1:$port"; else fail "the proxy answers on 127.0.0.1:$port"; fi
    output=$(via "$port" ps --format '{{.Names}}' 2>&1)
    if [[ $? -eq 0 && "$output" == *"$ro"* ]]; then
        pass "docker ps through the proxy works and lists $ro"
    else
        fail "docker ps through the proxy works: $output"
    fi
    output=$(via "$port" run --rm --entrypoint /usr/local/bin/socket-proxy "$tag" --help 2>&1)
    status=$?
    if [[ $status -ne 0 && "$output" == *"socket-proxy: POST"*"is denied: only GET and HEAD are allowed (POST=0)"* ]]; then
        pass "docker run is denied: ${output//$'\n'/ }"
    else
        fail "docker run is denied (status $status): $output"
    fi
    uid=$("${direct[@]}" top "$ro" 2>/dev/null | awk 'NR > 1 && /socket-proxy serve/ {print $1}')
    check "the proxy process runs as uid 10001, not root (uid: ${uid:-?})" test "$uid" = 10001
    if wait_until 30 is_healthy "$ro"; then
        pass "the container becomes healthy"
    else
        fail "the container becomes healthy: $("${direct[@]}" inspect --format '{{json .State.Health}}' "$ro")"
    fi
    logs=$("${direct[@]}" logs "$ro" 2>&1)
    check "--log-target auto writes to stderr in a container" grep -q 'audit to stderr' <<<"$logs"
    check "the audit records on stderr show the denial" grep -q 'decision=deny' <<<"$logs"

    # docker stop, with a stream open through the proxy.
    DOCKER_HOST=tcp://127.0.0.1:$port timeout 30 docker events >/dev/null 2>&1 &
    events=$!
    sleep 1
    started=$(date +%s%N)
    "${direct[@]}" stop "$ro" >/dev/null
    took=$((($(date +%s%N) - started) / 1000000))
    wait "$events" 2>/dev/null
    exit_code=$("${direct[@]}" inspect --format '{{.State.ExitCode}}' "$ro")
    check "docker stop ends it with status 0 (status $exit_code, not 137 from SIGKILL)" test "$exit_code" = 0
    check "docker stop ends it within the grace period (${took} ms, events stream open)" test "$took" -lt 9000
    check "the proxy said it stopped" grep -q 'stopped' <<<"$("${direct[@]}" logs "$ro" 2>&1)"
fi

# Creating containers: CONTAINERS=1 POST=1, bodies inspected.
port=$(free_port $((port + 1))) || { echo "test-image: no free port" >&2; exit 1; }
if ! start "$rw" "$port" -e CONTAINERS=1 -e POST=1; then
    fail "docker run $tag (CONTAINERS=1 POST=1)"
else
    wait_until 30 via "$port" version || fail "the proxy answers on 127.0.0.1:$port"
    output=$(via "$port" create --name "$created" --entrypoint /usr/local/bin/socket-proxy "$tag" --help 2>&1)
    check "a plain docker create works with POST=1 (${output:0:12})" test $? -eq 0
    "${direct[@]}" rm -f "$created" >/dev/null 2>&1
    output=$(via "$port" create --privileged --name "$created" "$tag" 2>&1)
    status=$?
    if [[ $status -ne 0 && "$output" == *"socket-proxy:"*"Privileged"* ]]; then
        pass "docker create --privileged is denied: ${output//$'\n'/ }"
    else
        fail "docker create --privileged is denied (status $status): $output"
    fi
    output=$(via "$port" create -v /:/host --name "$created" "$tag" 2>&1)
    status=$?
    if [[ $status -ne 0 && "$output" == *"socket-proxy:"*"Binds"* ]]; then
        pass "docker create -v /:/host is denied: ${output//$'\n'/ }"
    else
        fail "docker create -v /:/host is denied (status $status): $output"
    fi
    started=$(date +%s%N)
    "${direct[@]}" stop "$rw" >/dev/null
    took=$((($(date +%s%N) - started) / 1000000))
    check "docker stop of an idle proxy takes ${took} ms" test "$took" -lt 9000
fi

echo "== test-image: $tag"
echo "$passed passed, $failed failed"
[[ $failed -eq 0 ]]
