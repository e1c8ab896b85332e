#!/usr/bin/env bash
# Runs the commands of Docs/quick-start.md against a locally built image and checks that they do what the page says.
#
#   scripts/quick-start-check.sh [--from-source] TAG      e.g. after scripts/build-image-offline.sh socket-proxy:local
#
# The commands are read from the page when this runs: every fenced block after a line
# `<!-- quick-start-check: NAME [FILE] -->`. So the page and the check cannot drift: change a command there and this
# runs the changed command. The few substitutions this machine needs are in substitute() below, and the page's
# "What scripts/quick-start-check.sh checks" explains them; every command is printed as it is run.
#
# A command's comment on the page says what it must do (expect() below); one without such a comment must exit 0.
# --from-source also builds and runs the binary as "From source" shows, with --scratch-path $SCRATCH (default .build).
# Exits 0 when every check passed, 1 when one failed, 2 when this machine cannot run the check; removes what it made.
set -uo pipefail
cd "$(dirname "$0")/.."
repository=$PWD
page=$repository/Docs/quick-start.md

from_source=false
tag=""
for argument in "$@"; do
    case "$argument" in
        --from-source) from_source=true ;;
        -*) echo "usage: $0 [--from-source] TAG" >&2; exit 2 ;;
        *) tag=$argument ;;
    esac
done
[[ -n "$tag" ]] || { echo "usage: $0 [--from-source] TAG" >&2; exit 2; }

case "${DOCKER_HOST:-}" in
    "") socket=/var/run/docker.sock ;;
    unix://*) socket=${DOCKER_HOST#unix://} ;;
    *) echo "quick-start-check: DOCKER_HOST=$DOCKER_HOST is not a local unix:// socket" >&2; exit 2 ;;
esac
[[ -S "$socket" ]] || { echo "quick-start-check: no Docker socket at $socket" >&2; exit 2; }
export DOCKER_HOST=unix://$socket
docker image inspect "$tag" >/dev/null 2>&1 || { echo "quick-start-check: no image $tag (build it first)" >&2; exit 2; }
if docker container inspect socket-proxy >/dev/null 2>&1; then
    echo "quick-start-check: a container named socket-proxy exists; the page's commands use that name (remove it first)" >&2
    exit 2
fi
if grep -qiE ':(093F|093f) [0-9A-F:]+ 0A ' /proc/net/tcp /proc/net/tcp6 2>/dev/null; then
    echo "quick-start-check: port 2375 is in use on this host; the page's commands use it" >&2
    exit 2
fi
if docker compose version >/dev/null 2>&1; then
    compose="docker compose"
elif command -v docker-compose >/dev/null 2>&1; then
    compose=docker-compose
else
    echo "quick-start-check: neither docker compose nor docker-compose is installed (apt-get install docker-compose)" >&2
    exit 2
fi

passed=0
failed=0
pass() { passed=$((passed + 1)); printf 'ok    %s\n' "$*"; }
fail() { failed=$((failed + 1)); printf 'FAIL  %s\n' "$*"; }
work=$(mktemp -d)
chmod 0755 "$work"
project=socketproxyqs$$
server=""
cleanup() {
    docker rm -f socket-proxy >/dev/null 2>&1
    if [[ -d "$work/compose" ]]; then
        (cd "$work/compose" && COMPOSE_PROJECT_NAME=$project $compose down --timeout 10 >/dev/null 2>&1)
    fi
    if [[ -n "$server" ]]; then kill "$server" 2>/dev/null; wait "$server" 2>/dev/null; fi
    rm -rf "$work"
}
trap cleanup EXIT

# block NAME: the lines of the fenced block after `<!-- quick-start-check: NAME ... -->`.
block() {
    awk -v name="$1" '
        $0 ~ "^<!-- quick-start-check: " name "( |-->)" { armed = 1; next }
        armed && /^```/ { if (inside) exit; inside = 1; next }
        inside { print }
    ' "$page"
}
# block_file NAME: the FILE of `<!-- quick-start-check: NAME FILE -->`.
block_file() { sed -n "s/^<!-- quick-start-check: $1 \([^ ]*\) -->$/\1/p" "$page"; }

# What this machine needs changed, and nothing else (the page's "What scripts/quick-start-check.sh checks").
substitute() {
    sed -e "s#/var/run/docker.sock:/var/run/docker.sock#$socket:/var/run/docker.sock#g" \
        -e "s#stat -c %g /var/run/docker.sock#stat -c %g $socket#g" \
        -e "s#docker run -d #docker run -d --network host #g" \
        -e "s#-p 127.0.0.1:2375:2375#-e LISTEN=127.0.0.1:2375#g" \
        -e "s#^\( *\)socket-proxy\( serve .*\)\{0,1\}\$#\1$tag\2#" \
        -e "s#^docker compose up -d\$#$compose up -d socket-proxy#" \
        -e "s#^cd Examples/compose\$#cd $work/compose#" \
        -e "s#\"\*:2375\"#\"127.0.0.1:2375\"#" \
        -e "s#^swift build #swift build --scratch-path ${SCRATCH:-.build} #" \
        -e "s#^\.build/#${SCRATCH:-.build}/#"
}

# commands: the block on standard input, continuation lines joined, one command per line.
commands() { sed -e ':a' -e '/\\$/N; s/\\\n//; ta'; }

wait_until() {
    local deadline=$(($(date +%s) + $1))
    shift
    until "$@" >/dev/null 2>&1; do
        (($(date +%s) < deadline)) || return 1
        sleep 0.5
    done
}

# is COMMAND TEXT: true when the command prints exactly TEXT.
is() { test "$(bash -c "$1" 2>/dev/null)" = "$2"; }

# expect COMMAND: runs one command of the page and checks it against what its comment says.
expect() {
    local line=$1 command comment output status started took container
    command=$(sed -e 's/[[:space:]]\{1,\}# .*$//' <<<"$line")
    comment=$(sed -n 's/^.*[[:space:]]# \(.*\)$/\1/p' <<<"$line")
    printf '$ %s\n' "$line"
    case "$comment" in
        allowed*)
            # Retried for up to 15 s: the proxy may still be starting.
            local deadline=$(($(date +%s) + 15))
            while true; do
                output=$(bash -c "$command" 2>&1)
                status=$?
                [[ $status -ne 0 && $(date +%s) -lt $deadline ]] || break
                sleep 0.5
            done
            printf '%s\n' "$output" | head -5
            if [[ $status -eq 0 ]]; then pass "$comment"; else fail "$comment (status $status): $output"; fi
            ;;
        denied*)
            output=$(timeout 60 bash -c "$command" 2>&1); status=$?
            printf '%s\n' "$output"
            if [[ $status -ne 0 && "$output" =~ socket-proxy:\ .*\ is\ denied ]]; then
                pass "$comment"
            else
                fail "$comment (status $status, no socket-proxy denial): $output"
            fi
            ;;
        healthy*)
            started=$(date +%s)
            if wait_until 60 is "$command" healthy; then
                pass "$comment: $(bash -c "$command" 2>&1) after $(($(date +%s) - started)) s of polling"
            else
                fail "$comment: $(bash -c "$command" 2>&1)"
            fi
            ;;
        *"audit record"*)
            output=$(bash -c "$command" 2>&1); status=$?
            printf '%s\n' "$output" | head -3
            if [[ $status -eq 0 && "$output" == *"audit to stderr"* && "$output" == *"decision=deny"* ]]; then
                pass "$comment: the start-up line (audit to stderr) and the denial (decision=deny)"
            else
                fail "$comment (status $status): no start-up line or no denial"
            fi
            ;;
        "ends within"*)
            container=${command##* }
            started=$(date +%s%N)
            bash -c "$command" >/dev/null; status=$?
            took=$((($(date +%s%N) - started) / 1000000))
            local code
            code=$(docker inspect --format '{{.State.ExitCode}}' "$container" 2>&1)
            if [[ $status -eq 0 && $took -lt 10000 && "$code" == 0 ]]; then
                pass "$comment: stopped in $took ms, exit status 0"
            else
                fail "$comment: status $status, $took ms, the container's exit status $code"
            fi
            ;;
        reloads*)
            container=${command##* }
            bash -c "$command" >/dev/null; status=$?
            if [[ $status -eq 0 ]] && wait_until 10 sh -c "docker logs $container 2>&1 | grep -q 'reloaded the policy'"; then
                pass "$comment: the logs say reloaded the policy"
            else
                fail "$comment: status $status, $(docker logs "$container" 2>&1 | tail -2)"
            fi
            ;;
        *)
            output=$(bash -c "$command" 2>&1); status=$?
            printf '%s\n' "$output" | head -20
            if [[ $status -eq 0 ]]; then pass "exits 0: ${command:0:80}"; else fail "status $status: ${command:0:80}"; fi
            ;;
    esac
}

# run_block NAME: every command of the block, each checked by expect.
run_block() {
    local line
    echo "== Docs/quick-start.md, block \"$1\""
    local lines
    lines=$(block "$1" | substitute | commands)
    [[ -n "$lines" ]] || { fail "Docs/quick-start.md has no block marked quick-start-check: $1"; return; }
    while IFS= read -r line; do
        [[ -z "$line" ]] && continue
        expect "$line"
    done <<<"$lines"
}

echo "== quick-start-check: $tag, socket $socket, $compose"

# --- As a container: run it, then the commands after it --------------------------------------------------------
readme=$(<README.md)
if [[ "$readme" == *"$(block run)"* ]]; then
    pass "README.md shows the page's docker run command as it is"
else
    fail "README.md does not show the page's docker run command (block \"run\") as it is"
fi
run_block run
wait_until 30 env DOCKER_HOST=tcp://127.0.0.1:2375 docker version || fail "the proxy answers on 127.0.0.1:2375"
run_block then

# --- With Docker Compose and Traefik ---------------------------------------------------------------------------
echo "== Docs/quick-start.md, the compose file"
compose_file=$(block_file compose-file)
if [[ -n "$compose_file" ]] && diff <(block compose-file) "$compose_file" >/dev/null; then
    pass "the page shows $compose_file as it is"
else
    fail "the page's compose file differs from ${compose_file:-the file it names}: $(diff <(block compose-file) "$compose_file" | head -5)"
fi
mkdir -p "$work/compose"
substitute <"$repository/Examples/compose/docker-compose.yml" >"$work/compose/docker-compose.yml"
echo "== Docs/quick-start.md, block \"compose\" (COMPOSE_PROJECT_NAME=$project SOCKET_PROXY_IMAGE=$tag)"
script=$(block compose | substitute)
printf '$ %s\n' "${script//$'\n'/$'\n$ '}"
if output=$(COMPOSE_PROJECT_NAME=$project SOCKET_PROXY_IMAGE=$tag bash -ec "$script" 2>&1); then
    pass "the compose commands"
else
    fail "the compose commands: $output"
fi
proxy_id=$(cd "$work/compose" && COMPOSE_PROJECT_NAME=$project $compose ps -q socket-proxy 2>/dev/null)
network=$(docker inspect --format '{{range $name, $_ := .NetworkSettings.Networks}}{{$name}}{{end}}' "$proxy_id" 2>/dev/null)
if [[ "$(docker network inspect --format '{{.Internal}}' "$network" 2>/dev/null)" == true ]]; then
    pass "the proxy is only on the internal network $network"
else
    fail "the proxy is only on an internal network (networks: ${network:-none})"
fi
# Traefik's docker provider, played by bash with /dev/tcp on the same network: what it asks, and a write.
now=$(date +%s)
stand_in='
request() {
    exec 3<>/dev/tcp/socket-proxy/2375 || return 1
    printf "%s %s HTTP/1.1\r\nHost: socket-proxy\r\nUser-Agent: traefik-stand-in\r\nContent-Type: application/json\r\nContent-Length: %s\r\nConnection: close\r\n\r\n%s" \
        "$1" "$2" "${#3}" "$3" >&3
    echo "$1 $2 -> $(head -1 <&3 | tr -d "\r")"
    exec 3>&-
}
for attempt in $(seq 1 60); do request GET /_ping "" >/dev/null 2>&1 && break; sleep 0.5; done
request GET /_ping ""
request GET /version ""
request GET "/v1.41/containers/json?all=1" ""
request GET "/v1.41/containers/'"$proxy_id"'/json" ""
request GET "/v1.41/events?since='"$((now - 600))"'&until='"$now"'" ""
request POST /v1.41/containers/create "{\"Image\":\"busybox\"}"
'
output=$(timeout 90 docker run --rm --network "$network" --read-only --entrypoint bash "$tag" -c "$stand_in" 2>&1)
printf '%s\n' "$output"
for request in "GET /_ping" "GET /version" "GET /v1.41/containers/json" "GET /v1.41/containers/$proxy_id/json" \
    "GET /v1.41/events"; do
    if grep -q "^$request.* -> HTTP/1.1 200" <<<"$output"; then
        pass "Traefik's $request over tcp://socket-proxy:2375: 200"
    else
        fail "Traefik's $request over tcp://socket-proxy:2375: $(grep "^$request" <<<"$output" || echo no answer)"
    fi
done
if grep -q '^POST /v1.41/containers/create -> HTTP/1.1 403' <<<"$output"; then
    pass "POST /containers/create from the same client: 403"
else
    fail "POST /containers/create from the same client: $(grep '^POST' <<<"$output" || echo no answer)"
fi
if wait_until 60 is "docker inspect --format '{{.State.Health.Status}}' $proxy_id" healthy; then
    pass "the compose proxy turns healthy (Traefik's depends_on: service_healthy)"
else
    fail "the compose proxy turns healthy: $(docker inspect --format '{{json .State.Health}}' "$proxy_id" 2>&1)"
fi
(cd "$work/compose" && COMPOSE_PROJECT_NAME=$project $compose down --timeout 10 >/dev/null 2>&1)

# --- With a policy file ----------------------------------------------------------------------------------------
policy_file=$(block_file policy-file)
block policy-file | substitute >"$work/$policy_file"
chmod 0644 "$work/$policy_file"
echo "== $policy_file from the page, as run:"
cat "$work/$policy_file"
cd "$work" || exit 1
run_block policy-run
if wait_until 60 is "docker inspect --format '{{.State.Health.Status}}' socket-proxy" healthy; then
    pass "with the policy file the container turns healthy (the health check asks 127.0.0.1:2375)"
else
    fail "with the policy file the container turns healthy: $(docker inspect --format '{{json .State.Health}}' socket-proxy 2>&1)"
fi
docker rm -f socket-proxy >/dev/null 2>&1
cd "$repository" || exit 1

# --- From source ---------------------------------------------------------------------------------------------
if $from_source; then
    echo "== Docs/quick-start.md, block \"from-source\" (SOCKET_PATH=$socket, SCRATCH=${SCRATCH:-.build})"
    mapfile -t lines < <(block from-source | substitute | commands)
    for line in "${lines[@]}"; do
        command=$(sed -e 's/[[:space:]]\{1,\}# .*$//' <<<"$line")
        printf '$ %s\n' "$line"
        case "$command" in
            *release/socket-proxy*)
                SOCKET_PATH=$socket bash -c "exec $command" >"$work/from-source.log" 2>&1 &
                server=$!
                if wait_until 30 env DOCKER_HOST=tcp://127.0.0.1:2375 docker version; then
                    pass "the built binary serves on 127.0.0.1:2375"
                else
                    fail "the built binary serves on 127.0.0.1:2375: $(tail -3 "$work/from-source.log")"
                fi
                expect "DOCKER_HOST=tcp://127.0.0.1:2375 docker ps  # allowed: --containers"
                expect "DOCKER_HOST=tcp://127.0.0.1:2375 docker run --rm busybox  # denied: no --post"
                kill "$server"
                if wait "$server"; then pass "SIGTERM ends it with status 0"; else fail "SIGTERM ends it with status 0"; fi
                server=""
                ;;
            *)
                started=$(date +%s)
                if bash -c "$command" >"$work/build.log" 2>&1; then
                    pass "exits 0 in $(($(date +%s) - started)) s: $command"
                else
                    fail "$command: $(tail -5 "$work/build.log")"
                fi
                ;;
        esac
    done
fi

echo "== not run: docker build (needs the official images), the systemd section (needs systemd as PID 1)"
echo "quick-start-check: $passed passed, $failed failed"
[[ $failed -eq 0 ]]
