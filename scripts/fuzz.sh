#!/usr/bin/env bash
# Builds and runs the libFuzzer targets of the parsers (Fuzz/Targets/*), with AddressSanitizer.
#
#   scripts/fuzz.sh --list                      the targets, one per line
#   scripts/fuzz.sh --build [TARGET...]         builds (all targets by default) without running
#   scripts/fuzz.sh TARGET SECONDS [OPTION...]  runs one target for SECONDS; OPTIONs go to libFuzzer (-jobs=2 ...)
#   scripts/fuzz.sh TARGET --runs N [OPTION...] runs one target for N executions (e.g. 10000000)
#   scripts/fuzz.sh --ci SECONDS                builds, then runs every target for SECONDS each: the bounded form
#                                               for CI (--all is the same)
#   scripts/fuzz.sh --replay TARGET FILE...     feeds saved inputs (a crash file, a corpus file) once each
#
# Each run prints its total executions and executions per second, and fails (exit 1) when the target found an
# input that crashes or breaks an invariant; that input is kept under .build-fuzz-libfuzzer/artifacts/TARGET/ and its
# path printed. Copy it to Fuzz/Regressions/TARGET/ and give it a test in FuzzRegressionTests.swift.
#
# How the build works: the parsers under test (Sources/SocketProxyCore/HTTP, Inspection and
# Policy/RequestTarget.swift) need nothing from the rest of the library, so they are compiled on their own into a
# static library named SocketProxyCore, with coverage and AddressSanitizer instrumentation
# (-sanitize=fuzzer,address). Each target is then compiled with Fuzz/Support/*.swift against that module and
# linked with libFuzzer's main. The targets `import SocketProxyCore`, so they see only its public API. Everything
# lands in .build-fuzz-libfuzzer/ (ignored by git; not a SwiftPM scratch path, which would clash with its own
# artifacts/ folder): lib/, bin/, corpus/TARGET (inputs found while fuzzing, kept between runs), artifacts/TARGET
# (crashes), logs/TARGET.log. The seed corpus, Fuzz/Corpus/TARGET, is read but never written.
set -euo pipefail

cd "$(dirname "$0")/.."

if ! command -v swiftc >/dev/null 2>&1 && [[ -x /opt/swift/usr/bin/swiftc ]]; then
    export PATH="/opt/swift/usr/bin:$PATH"
fi

BUILD=.build-fuzz-libfuzzer
TARGETS=(request-head response-head chunked-body request-target body-inspector)
LIBRARY_SOURCES=(Sources/SocketProxyCore/HTTP/*.swift Sources/SocketProxyCore/Inspection/*.swift
    Sources/SocketProxyCore/Policy/RequestTarget.swift)
SWIFT_FLAGS=(-parse-as-library -sanitize=fuzzer,address -O)
# lld links the instrumented binaries without gold's "cannot export local symbol __asan_*" warnings.
if command -v ld.lld >/dev/null 2>&1; then
    LINK_FLAGS=(-use-ld=lld)
else
    LINK_FLAGS=()
fi

# The Swift runtime's crash reporter hangs under libFuzzer's signal handlers; libFuzzer prints its own report.
export SWIFT_BACKTRACE=enable=no
# Leak checks would report the Swift runtime's process-lifetime caches, not leaks in the parsers. Recording a stack
# for every allocation costs a third of the executions; a finding is replayed with full stacks (--replay) anyway.
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=0:allocator_may_return_null=1:malloc_context_size=0}"

log() { echo "scripts/fuzz.sh: $*" >&2; }
die() {
    log "$*"
    exit 2
}

is_target() {
    local name
    for name in "${TARGETS[@]}"; do [[ $name == "$1" ]] && return 0; done
    return 1
}

dictionary_of() {
    case "$1" in
        request-head | response-head | chunked-body) echo Fuzz/Dictionaries/http.dict ;;
        request-target) echo Fuzz/Dictionaries/path.dict ;;
        body-inspector) echo Fuzz/Dictionaries/json.dict ;;
    esac
}

# The longest input libFuzzer makes. The chunked decoder's limits are reached well inside 1 KiB with the small limits
# the target draws, and shorter inputs leave it more executions; heads and JSON get room for many fields.
max_len_of() {
    case "$1" in
        chunked-body | request-target) echo 1024 ;;
        *) echo 4096 ;;
    esac
}

# Whether $1 is missing or older than any of the other files.
stale() {
    local output=$1 input
    shift
    [[ -e $output ]] || return 0
    for input in "$@"; do [[ $input -nt $output ]] && return 0; done
    return 1
}

run_compiler() {
    local log_file=$1
    shift
    if ! swiftc "$@" >"$log_file" 2>&1; then
        cat "$log_file" >&2
        die "the build failed (log: $log_file)"
    fi
}

build_library() {
    mkdir -p "$BUILD/lib"
    if stale "$BUILD/lib/libSocketProxyCore.a" "${LIBRARY_SOURCES[@]}" scripts/fuzz.sh; then
        log "building the instrumented parsers (SocketProxyCore subset) into $BUILD/lib"
        run_compiler "$BUILD/lib/build.log" "${SWIFT_FLAGS[@]}" -wmo -emit-library -static -emit-module \
            -module-name SocketProxyCore -emit-module-path "$BUILD/lib/SocketProxyCore.swiftmodule" \
            -o "$BUILD/lib/libSocketProxyCore.a" "${LIBRARY_SOURCES[@]}"
    fi
}

build_target() {
    local target=$1
    local sources=(Fuzz/Support/*.swift "Fuzz/Targets/$target/main.swift")
    mkdir -p "$BUILD/bin"
    if stale "$BUILD/bin/$target" "$BUILD/lib/libSocketProxyCore.a" "${sources[@]}"; then
        log "building $target"
        run_compiler "$BUILD/bin/$target.log" "${SWIFT_FLAGS[@]}" "${LINK_FLAGS[@]}" -I "$BUILD/lib" \
            -L "$BUILD/lib" -lSocketProxyCore -module-name "FuzzTarget" -o "$BUILD/bin/$target" "${sources[@]}"
    fi
}

# Runs one target; prints one summary line; returns 1 on a finding.
run_target() {
    local target=$1 mode=$2 amount=$3
    shift 3
    build_library
    build_target "$target"
    local corpus="$BUILD/corpus/$target" artifacts="$BUILD/artifacts/$target" output="$BUILD/logs/$target.log"
    mkdir -p "$corpus" "$artifacts" "$BUILD/logs"
    local limit
    if [[ $mode == seconds ]]; then limit=(-max_total_time="$amount"); else limit=(-runs="$amount"); fi
    log "running $target (${mode} $amount); log: $output"
    local status=0
    "$BUILD/bin/$target" "${limit[@]}" -max_len="$(max_len_of "$target")" -timeout=10 -rss_limit_mb=2048 \
        -print_final_stats=1 -dict="$(dictionary_of "$target")" -artifact_prefix="$artifacts/" "$@" \
        "$corpus" "Fuzz/Corpus/$target" >"$output" 2>&1 || status=$?
    local runs rate seconds units
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$output" | tail -1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$output" | tail -1)
    seconds=$(sed -n 's/^Done [0-9]* runs in \([0-9]*\) second.*/\1/p' "$output" | tail -1)
    units=$(find "$corpus" -type f | wc -l)
    if [[ $status -ne 0 ]]; then
        grep -E "fuzz invariant broken|ERROR: AddressSanitizer|Fatal error|SUMMARY|Test unit written" "$output" \
            | head -8 >&2 || true
        printf '%-15s FINDING after %s executions (exit %d); see %s and %s\n' "$target" "${runs:-?}" "$status" \
            "$output" "$artifacts"
        return 1
    fi
    printf '%-15s %12s executions in %4s s  %8s exec/s  corpus %d (+%d seeds)  no finding\n' "$target" \
        "${runs:-?}" "${seconds:-?}" "${rate:-?}" "$units" "$(find "Fuzz/Corpus/$target" -type f | wc -l)"
}

usage="scripts/fuzz.sh --list | --build [TARGET...] | TARGET SECONDS | TARGET --runs N | --ci SECONDS"
usage+=" | --replay TARGET FILE..."
[[ $# -ge 1 ]] || die "usage: $usage"

case "$1" in
    --list)
        printf '%s\n' "${TARGETS[@]}"
        ;;
    --build)
        shift
        build_library
        for target in "${@:-${TARGETS[@]}}"; do
            is_target "$target" || die "no target $target (see --list)"
            build_target "$target"
        done
        ;;
    --all | --ci)
        [[ $# -eq 2 && $2 =~ ^[0-9]+$ ]] || die "usage: scripts/fuzz.sh --ci SECONDS"
        build_library
        for target in "${TARGETS[@]}"; do build_target "$target"; done
        failed=0
        for target in "${TARGETS[@]}"; do
            run_target "$target" seconds "$2" || failed=1
        done
        exit "$failed"
        ;;
    --replay)
        [[ $# -ge 3 ]] || die "usage: scripts/fuzz.sh --replay TARGET FILE..."
        is_target "$2" || die "no target $2 (see --list)"
        build_library
        build_target "$2"
        target=$2
        shift 2
        ASAN_OPTIONS=detect_leaks=0 "$BUILD/bin/$target" -runs=1 "$@"
        ;;
    -*)
        die "unknown option $1"
        ;;
    *)
        is_target "$1" || die "no target $1 (see --list)"
        target=$1
        shift
        [[ $# -ge 1 ]] || die "usage: scripts/fuzz.sh $target SECONDS | $target --runs N"
        if [[ $1 == --runs ]]; then
            [[ $# -ge 2 && $2 =~ ^[0-9]+$ ]] || die "usage: scripts/fuzz.sh $target --runs N"
            amount=$2
            shift 2
            run_target "$target" runs "$amount" "$@"
        else
            [[ $1 =~ ^[0-9]+$ ]] || die "SECONDS must be a whole number, not $1"
            amount=$1
            shift
            run_target "$target" seconds "$amount" "$@"
        fi
        ;;
esac
