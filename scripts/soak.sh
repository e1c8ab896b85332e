#!/usr/bin/env bash
# Soak test: a million mixed requests through socket-proxy against a real Docker daemon, then checks that nothing
# grew and nothing failed.
#
#   scripts/soak.sh [--requests N] [--concurrency C] [--sanitize] [--scratch-path DIR] [--keep]
#
#   --requests N      how many requests (default 1000000: about 20 minutes on two busy cores, with --sanitize
#                     too; 50000 for a quick run)
#   --concurrency C   keep-alive client connections (default 16)
#   --sanitize        build with -sanitize=address and run under it, with leak checking at exit
#                     (ASAN_OPTIONS=detect_leaks=1): any AddressSanitizer or LeakSanitizer report fails the run
#   --scratch-path    the build folder (default .build-soak, or .build-soak-asan with --sanitize)
#   --keep            keep the run's folder (proxy log with every audit line, the load generator's result)
#
# The mix (scripts/soak-load.py): allowed requests via the daemon, denied ones (one of them a privileged container
# create whose body the proxy inspects), pipelined batches of ten, finite streams (logs, events), and hijacked
# connections (attach, exec start with Upgrade: tcp). The proxy is built in release mode and logs its audit
# records to a file (--log-target stderr).
#
# Passes when:
#   - every answer was what its request must get (denials are expected answers; anything else is an error),
#   - the proxy's resident memory at the end is less than 5% above its resident memory after the warm-up (a tenth
#     of the requests, at least 20 000 and at most 50 000; with every client gone both times),
#   - its open descriptors return to the count after the warm-up; sockets and pipes may stay above it only within
#     the bounds of the proxy's caches of idle daemon connections and splice pipes (see the verdict below),
#   - every request has exactly one audit record and none was dropped,
#   - it exits 0 on SIGTERM, and under --sanitize no sanitizer report appears,
#   - the requests went at least at the pace of a million an hour (278/s; not enforced under --sanitize).
# Under --sanitize the memory check is reported but not enforced: AddressSanitizer's quarantine holds freed memory
# on purpose, so resident memory grows whatever the proxy does; the leak check at exit replaces it.
#
# The daemon: SOCKET_PROXY_TEST_DOCKER_SOCKET when set, else a private dockerd when run as root (as
# scripts/test.sh does), else /var/run/docker.sock.
set -euo pipefail

cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib/services.sh
source scripts/lib/services.sh
SERVICES_LOG_PREFIX="scripts/soak.sh"

requests=1000000
concurrency=16
sanitize=0
scratch=""
keep=0
while (($#)); do
    case "$1" in
        --requests) requests=$2; shift 2 ;;
        --requests=*) requests=${1#*=}; shift ;;
        --concurrency) concurrency=$2; shift 2 ;;
        --concurrency=*) concurrency=${1#*=}; shift ;;
        --sanitize) sanitize=1; shift ;;
        --scratch-path) scratch=$2; shift 2 ;;
        --scratch-path=*) scratch=${1#*=}; shift ;;
        --keep) keep=1; shift ;;
        -h | --help) sed -n '2,/^set -euo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "scripts/soak.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
    esac
done
[[ "$requests" =~ ^[0-9]+$ ]] && ((requests >= 1000)) || { echo "scripts/soak.sh: --requests must be >= 1000" >&2; exit 2; }

if ! command -v swift >/dev/null 2>&1 && [[ -x /opt/swift/usr/bin/swift ]]; then
    export PATH="/opt/swift/usr/bin:$PATH"
fi
for tool in swift python3 docker curl; do
    command -v "$tool" >/dev/null 2>&1 || { services_log "$tool is not installed"; exit 1; }
done

run_dir=$(mktemp -d /tmp/socket-proxy-soak-XXXXXX)
proxy_pid=""
container=""
cleanup() {
    local status=$?
    if [[ -n "$proxy_pid" ]] && kill -0 "$proxy_pid" 2>/dev/null; then
        kill -KILL "$proxy_pid" 2>/dev/null || true
    fi
    if [[ -n "$container" ]]; then docker rm -f "$container" >/dev/null 2>&1 || true; fi
    stop_private_dockerd
    if ((keep)); then services_log "kept $run_dir"; else rm -rf "$run_dir"; fi
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# The daemon.
if [[ -n "${SOCKET_PROXY_TEST_DOCKER_SOCKET:-}" ]]; then
    docker_socket_answers "$SOCKET_PROXY_TEST_DOCKER_SOCKET" \
        || { services_log "SOCKET_PROXY_TEST_DOCKER_SOCKET=$SOCKET_PROXY_TEST_DOCKER_SOCKET does not answer"; exit 1; }
elif [[ $(id -u) -eq 0 ]] && find_dockerd >/dev/null; then
    start_private_dockerd
elif docker_socket_answers /var/run/docker.sock; then
    export SOCKET_PROXY_TEST_DOCKER_SOCKET=/var/run/docker.sock
else
    services_log "no Docker daemon: set SOCKET_PROXY_TEST_DOCKER_SOCKET, or run as root with dockerd installed"
    exit 1
fi
socket=$SOCKET_PROXY_TEST_DOCKER_SOCKET
export DOCKER_HOST="unix://$socket" DOCKER_CONFIG="$run_dir/docker-config"
mkdir -p "$DOCKER_CONFIG" && echo '{}' >"$DOCKER_CONFIG/config.json"
api_version=$(docker version --format '{{.Server.APIVersion}}')
services_log "daemon on $socket (API $api_version)"

# The proxy, in release mode.
build_arguments=(-c release --product socket-proxy)
if ((sanitize)); then
    scratch=${scratch:-.build-soak-asan}
    build_arguments+=(--sanitize=address)
else
    scratch=${scratch:-.build-soak}
fi
services_log "swift build ${build_arguments[*]} --scratch-path $scratch"
swift build "${build_arguments[@]}" --scratch-path "$scratch" >&2
binary="$scratch/release/socket-proxy"

# The image and the container the load talks to: it prints a line every 20 ms, for logs and attach.
image=socket-proxy-test/busybox:latest
if ! docker image inspect "$image" >/dev/null 2>&1; then
    busybox=${SOCKET_PROXY_TEST_BUSYBOX:-/bin/busybox}
    [[ -x "$busybox" ]] || { services_log "no static busybox at $busybox for the soak image"; exit 1; }
    root="$run_dir/rootfs"
    mkdir -p "$root"/{bin,etc,tmp,proc,sys,dev,root}
    cp "$busybox" "$root/bin/busybox"
    for applet in $("$busybox" --list); do [[ "$applet" == busybox ]] || ln -sf busybox "$root/bin/$applet"; done
    echo 'root:x:0:0:root:/root:/bin/sh' >"$root/etc/passwd"
    tar --numeric-owner --owner=0 --group=0 -C "$root" -cf - . | docker import --change 'CMD ["/bin/sh"]' - "$image" >/dev/null
fi
container="socket-proxy-soak-$$"
docker run -d --network none --name "$container" "$image" \
    sh -c 'i=0; while :; do echo "tick $i"; i=$((i+1)); sleep 0.02; done' >/dev/null
container_id=$(docker inspect --format '{{.Id}}' "$container")

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
log="$run_dir/proxy.log"
environment=(PATH="$PATH" HOME="${HOME:-/root}" CONTAINERS=1 POST=1 EXEC=1 ALLOW_ATTACH=1)
if ((sanitize)); then
    environment+=(ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:log_path=$run_dir/asan")
fi
env -i "${environment[@]}" "$binary" --listen "127.0.0.1:$port" --socket-path "$socket" --log-target stderr \
    >"$run_dir/proxy.out" 2>"$log" &
proxy_pid=$!
# The one ping that is answered has an audit record too; refused connections before it have none.
readiness_pings=0
for _ in $(seq 100); do
    if [[ "$(curl --silent --max-time 2 "http://127.0.0.1:$port/_ping" 2>/dev/null)" == OK ]]; then
        readiness_pings=1
        break
    fi
    kill -0 "$proxy_pid" 2>/dev/null || { services_log "the proxy exited at start:"; cat "$log" >&2; exit 1; }
    sleep 0.1
done
((readiness_pings)) || { services_log "the proxy did not answer /_ping within 10 s:"; cat "$log" >&2; exit 1; }
services_log "socket-proxy (pid $proxy_pid$( ((sanitize)) && echo ', AddressSanitizer')) on 127.0.0.1:$port;" \
    "$requests requests, $concurrency connections"

started=$(date +%s)
python3 scripts/soak-load.py --port "$port" --pid "$proxy_pid" --container "$container_id" --image "$image" \
    --api-version "$api_version" --requests "$requests" --concurrency "$concurrency" >"$run_dir/result.json"

kill -TERM "$proxy_pid"
proxy_status=0
wait "$proxy_pid" || proxy_status=$?
proxy_pid=""
finished=$(date +%s)

# The verdict.
python3 - "$run_dir/result.json" "$log" "$proxy_status" "$sanitize" "$readiness_pings" "$run_dir" \
    "$((finished - started))" <<'EOF'
import glob, json, sys

result_path, log_path, proxy_status, sanitize, pings, run_dir, wall = sys.argv[1:8]
result = json.load(open(result_path))
sanitize = sanitize == "1"
audit_lines = 0
dropped_warnings = []
err_lines = []
other = []
with open(log_path, errors="replace") as log:
    for line in log:
        if line.startswith("level="):
            if "audit records were dropped" in line:
                dropped_warnings.append(line.strip())
            elif " request_id=" in line:
                audit_lines += 1
                if line.startswith("level=err"):
                    err_lines.append(line.strip())
            else:
                other.append(line.strip())
sanitizer_reports = []
for path in glob.glob(f"{run_dir}/asan*"):
    sanitizer_reports.append(open(path, errors="replace").read())
with open(log_path, errors="replace") as log:
    text = log.read()
    for marker in ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer"):
        if marker in text:
            sanitizer_reports.append(text[text.index(marker):][:4000])

def total(kinds):
    return sum(kinds.values())

rss_growth = (result["rss_kb_end"] - result["rss_kb_warm"]) / result["rss_kb_warm"] * 100
expected_records = result["requests"] + int(pings)
failures = []
if result["errors"]:
    failures.append(f"{result['errors']} errors: " + "; ".join(result["error_samples"][:5]))
# A million within the hour: the pace is checked at any size (not under the sanitizer, which is several times
# slower by design).
if result["requests_per_s"] < 1_000_000 / 3600 and not sanitize:
    failures.append(f"{result['requests_per_s']} requests/s, slower than a million an hour")
if result["requests"] < result["requested"]:
    failures.append(f"only {result['requests']} of {result['requested']} requests were answered")
if rss_growth >= 5 and not sanitize:
    failures.append(f"resident memory grew {rss_growth:.1f}% after the warm-up")
# Descriptors: everything but sockets and pipes must be back at the warm-up count exactly. Sockets and pipes may
# stay above it only as far as the proxy's per-loop caches reach: idle daemon connections (at most one per client
# connection a loop had at once) and idle splice pipes (at most two per client connection, 32 per loop). Which loop
# gets which client differs between the phases, so the caches can still grow a little after the warm-up; a leak
# grows with the number of requests and passes these bounds within the first few thousand.
start, warm, end = result["fds_start"], result["fds_warm"], result["fds_end"]
loops = max(1, start.get("anon_inode:[eventpoll]", 1))  # one epoll instance per event loop
concurrency = result["concurrency"]
cache_bound = {
    "socket": start.get("socket", 0) + loops * concurrency,
    "pipe": start.get("pipe", 0) + 2 * loops * min(32, 2 * concurrency),
}
for kind in sorted(set(warm) | set(end)):
    if kind in cache_bound:
        if end.get(kind, 0) > max(warm.get(kind, 0), cache_bound[kind]):
            failures.append(f"{end.get(kind, 0)} {kind} descriptors at the end, {warm.get(kind, 0)} after the "
                            f"warm-up, more than the caches hold ({cache_bound[kind]}): {end}")
    elif end.get(kind, 0) != warm.get(kind, 0):
        failures.append(f"{end.get(kind, 0)} {kind} descriptors at the end, {warm.get(kind, 0)} after the warm-up")
if err_lines:
    failures.append(f"{len(err_lines)} err-level audit records, e.g. {err_lines[0][:300]}")
if dropped_warnings:
    failures.append(f"audit records were dropped: {dropped_warnings[0]}")
if audit_lines != expected_records:
    failures.append(f"{audit_lines} audit records for {expected_records} requests")
if proxy_status != "0":
    failures.append(f"the proxy exited with status {proxy_status} on SIGTERM")
if sanitizer_reports:
    failures.append("sanitizer report:\n" + sanitizer_reports[0][:4000])

mb = lambda kb: f"{kb / 1024:.1f} MiB"
print(f"""
socket-proxy soak{' (AddressSanitizer, leak check at exit)' if sanitize else ''}
  requests        {result['requests']} in {result['duration_s']:.0f} s = {result['requests_per_s']}/s \
({result['concurrency']} connections, {result['connections']} opened; wall {wall} s with start and stop)
  mix             allowed {result['allowed']}, denied {result['denied']} (expected 403), pipelined \
{result['pipelined']}, streaming {result['streaming']}, hijacked {result['hijacked']} (exec {result['exec']})
  errors          {result['errors']}
  latency         {result.get('latency_ms')} per operation (a pipelined batch of ten is one)
  RSS             start {mb(result['rss_kb_start'])}, after warm-up ({result['warmup_requests']} requests) \
{mb(result['rss_kb_warm'])}, peak {mb(result['rss_kb_peak'])}, end {mb(result['rss_kb_end'])} \
({rss_growth:+.2f}% after warm-up{', not enforced under the sanitizer' if sanitize else ''})
  descriptors     start {total(result['fds_start'])} {result['fds_start']}, after warm-up \
{total(result['fds_warm'])} {result['fds_warm']}, end {result['fds_end_settled']} {result['fds_end']}
  proxy CPU       {result['cpu_s']:.1f} s
  audit records   {audit_lines} for {expected_records} requests, {len(dropped_warnings)} drop warnings, \
{len(err_lines)} at err level
  exit            status {proxy_status} on SIGTERM{', no sanitizer report' if sanitize and not sanitizer_reports else ''}
""")
if failures:
    print("FAILED:\n  - " + "\n  - ".join(failures))
    sys.exit(1)
print("PASSED")
EOF
