#!/usr/bin/env bash
# Generates the manual page socket-proxy(1) from the command's own definitions, with swift-argument-parser's
# generate-manual plugin (it comes with the swift-argument-parser dependency; nothing is added to Package.swift).
#
#   scripts/generate-manual.sh [generate-manual options...]     e.g. --multi-page, --date 2026-01-31
#
# Writes .build-manual/socket-proxy.1 (one page, a section per command; with --multi-page, one page per command
# next to it). Read it with `man -l .build-manual/socket-proxy.1`; install it with
# `install -D -m 0644 .build-manual/socket-proxy.1 /usr/local/share/man/man1/socket-proxy.1`.
#
# SCRATCH (default .build-manual) is the build folder; the plugin builds the package's executables in debug mode
# there (the page is the same as a release build's) and runs `socket-proxy --experimental-dump-help`.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v swift >/dev/null 2>&1 && [[ -x /opt/swift/usr/bin/swift ]]; then
    export PATH="/opt/swift/usr/bin:$PATH"
fi
scratch=${SCRATCH:-.build-manual}

swift package --scratch-path "$scratch" generate-manual --configuration debug "$@" >&2

# The plugin writes into its own work folder: <scratch>/plugins/GenerateManual/outputs/socket-proxy/.
pages=$(find "$scratch/plugins" -path '*GenerateManual*' -name 'socket-proxy*.1' -newer Package.swift -print 2>/dev/null || true)
[[ -n "$pages" ]] || pages=$(find "$scratch/plugins" -path '*GenerateManual*' -name 'socket-proxy*.1' -print)
[[ -n "$pages" ]] || { echo "generate-manual.sh: the plugin wrote no socket-proxy page under $scratch/plugins" >&2; exit 1; }
for page in $pages; do
    cp "$page" "$scratch/"
    echo "$scratch/$(basename "$page")"
done
