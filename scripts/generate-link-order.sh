#!/usr/bin/env bash
# Regenerates Sources/socket-proxy/HotFunctions.order: the functions socket-proxy runs while it serves requests,
# hottest first. Release builds hand the file to the linker (Package.swift), which lays those functions out next to
# each other. Spread over the 10 MiB of code a statically linked binary carries, they would fault in about 2 MiB of
# pages (the kernel maps pages around every fault); together they take a few hundred KiB. See Docs/performance.md.
#
#   scripts/generate-link-order.sh          needs valgrind (callgrind) and python3
#
# It builds the release binary, runs it under callgrind against a small fake daemon, starts counting only once the
# proxy is listening (start-up code runs once and is trimmed afterwards), sends a mix of allowed, denied, pipelined,
# body-carrying and malformed requests with the audit going to stderr and then to the journal, and keeps every
# function of the binary that ran. Names that later disappear from the code are ignored by the linker, so a stale
# file costs memory, never correctness; regenerate it after large changes to the request path.
set -euo pipefail

cd "$(dirname "$0")/.."
if ! command -v swift >/dev/null 2>&1 && [[ -x /opt/swift/usr/bin/swift ]]; then
    export PATH="/opt/swift/usr/bin:$PATH"
fi
for tool in valgrind callgrind_control python3; do
    command -v "$tool" >/dev/null || { echo "generate-link-order: $tool is needed (apt-get install valgrind python3)" >&2; exit 1; }
done

output=Sources/socket-proxy/HotFunctions.order
work=$(mktemp -d)
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT

swift build -c release --static-swift-stdlib --product socket-proxy --scratch-path .build-static
# valgrind 3.19 cannot read the DWARF 5 the toolchain writes; the symbol table is all this needs.
strip --strip-debug -o "$work/socket-proxy" .build-static/release/socket-proxy

# The fake daemon: answers every request with a small JSON body, keeps connections open.
python3 - "$work/daemon.sock" <<'PY' &
import os, socket, sys, threading
path = sys.argv[1]
server = socket.socket(socket.AF_UNIX)
server.bind(path)
server.listen(64)
body = b'[{"Id":"0123456789abcdef","Names":["/web"],"State":"running"}]'
def serve(connection):
    data = b""
    while True:
        chunk = connection.recv(65536)
        if not chunk:
            return
        data += chunk
        while b"\r\n\r\n" in data:
            head, _, rest = data.partition(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            while len(rest) < length:
                more = connection.recv(65536)
                if not more:
                    return
                rest += more
            data = rest[length:]
            connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n"
                               % len(body) + body)
while True:
    connection, _ = server.accept()
    threading.Thread(target=serve, args=(connection,), daemon=True).start()
PY
pids+=($!)
for _ in $(seq 1 50); do [[ -S "$work/daemon.sock" ]] && break; sleep 0.1; done

profile() {
    local target=$1 port=$2
    env CONTAINERS=1 IMAGES=1 BUILD=1 POST=1 LOG_LEVEL=info \
        valgrind --tool=callgrind --demangle=no --instr-atstart=no --callgrind-out-file="$work/profile.$target" \
        "$work/socket-proxy" --listen "127.0.0.1:$port" --socket-path "$work/daemon.sock" --log-target "$target" \
        --threads 1 >"$work/valgrind.$target.log" 2>&1 </dev/null &
    local proxy=$!
    pids+=("$proxy")
    for _ in $(seq 1 300); do
        grep -q "listening on" "$work/valgrind.$target.log" 2>/dev/null && break
        [[ "$target" == journald ]] && python3 -c "import socket; socket.create_connection(('127.0.0.1', $port)).close()" \
            2>/dev/null && break
        sleep 0.1
    done
    callgrind_control --instr=on "$proxy" >/dev/null
    python3 - "$port" <<'PY'
import socket, sys
port = int(sys.argv[1])
def exchange(requests, answers):
    connection = socket.create_connection(("127.0.0.1", port))
    connection.settimeout(5)
    connection.sendall(b"".join(requests))
    received = b""
    try:
        while received.count(b"HTTP/1.1 ") < answers:
            chunk = connection.recv(65536)
            if not chunk:
                break
            received += chunk
    except socket.timeout:
        pass
    connection.close()
def request(line, fields=b"", body=b""):
    length = b"Content-Length: %d\r\n" % len(body) if body else b""
    return line + b"\r\nHost: docker\r\n" + fields + length + b"\r\n" + body
for _ in range(200):
    exchange([request(b"GET /_ping HTTP/1.1"), request(b"GET /v1.41/containers/json HTTP/1.1")], 2)
    exchange([request(b"GET /v1.41/containers/json?all=1 HTTP/1.1")], 1)
    exchange([request(b"HEAD /v1.41/images/web/json HTTP/1.1")], 1)
    exchange([request(b"POST /v1.41/build HTTP/1.1", body=b"x" * 5000)], 1)
    exchange([request(b"POST /v1.41/containers/web/start HTTP/1.1")], 1)
    exchange([request(b"GET /_ping HTTP/1.1", b"Connection: close\r\n")], 1)
    exchange([request(b"GET /version HTTP/1.1")], 1)
    exchange([request(b"GET /v1.41/secrets HTTP/1.1"), request(b"DELETE /v1.41/volumes/data HTTP/1.1")], 2)
    exchange([request(b"GET /a%zz HTTP/1.1")], 1)
PY
    kill -TERM "$proxy"
    wait "$proxy" || true
}

profile stderr 23751
if [[ -S /run/systemd/journal/socket ]]; then
    profile journald 23752
else
    echo "generate-link-order: no journald running; the journal's audit path is left out" >&2
fi

python3 - "$work" "$output" <<'PY'
import collections, glob, re, sys
work, output = sys.argv[1], sys.argv[2]
cost, objects = collections.Counter(), {}
for path in glob.glob(work + "/profile.*"):
    functions, binaries, current, binary = {}, {}, None, None
    for line in open(path):
        line = line.rstrip("\n")
        match = re.match(r"^(c?fn)=\((\d+)\)(?: (.*))?$", line)
        if match:
            kind, number, name = match.groups()
            if name:
                functions[number] = name
            if kind == "fn":
                current = functions.get(number)
                objects.setdefault(current, binary)
            continue
        match = re.match(r"^(c?ob)=\((\d+)\)(?: (.*))?$", line)
        if match:
            kind, number, name = match.groups()
            if name:
                binaries[number] = name
            if kind == "ob":
                binary = binaries.get(number)
            continue
        if current and re.match(r"^[0-9+*-]", line):
            fields = line.split()
            if len(fields) >= 2 and fields[1].isdigit():
                cost[current] += int(fields[1])
ours = [name for name, binary in objects.items() if name and binary and binary.endswith("/socket-proxy")]
ours.sort(key=lambda name: (-cost[name], name))
with open(output, "w") as file:
    file.write("\n".join(ours) + "\n")
print("generate-link-order: %d functions ran while serving; wrote %s" % (len(ours), output))
PY
# The file is not an input SwiftPM tracks: relink now, so that .build-static holds a binary laid out by it. Other
# build folders relink the next time a source changes (or delete their release/socket-proxy).
rm -f .build-static/release/socket-proxy
swift build -c release --static-swift-stdlib --product socket-proxy --scratch-path .build-static
