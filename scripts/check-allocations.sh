#!/usr/bin/env bash
# The cheap CI form of the allocation benchmark: runs Allocations.ProxiedRequestKeepAlive (a keep-alive client
# through an in-process proxy with its audit trail on, to a daemon stand-in) and fails unless every measured
# proxied request cost zero heap allocations in the whole process. Counts, not times: it does not depend on how
# busy the machine is.
#
#   scripts/check-allocations.sh
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v swift >/dev/null 2>&1 && [[ -x /opt/swift/usr/bin/swift ]]; then
    export PATH="/opt/swift/usr/bin:$PATH"
fi

output=$(swift package benchmark --filter 'Allocations\..*' --no-progress 2>&1) || {
    echo "$output"
    echo "check-allocations: the benchmark did not run" >&2
    exit 1
}
echo "$output" | sed -n '/Allocations.ProxiedRequestKeepAlive/,$p'
# The row: │ Malloc (total) * │ p0 │ p25 │ p50 │ p75 │ p90 │ p99 │ p100 │ Samples │
row=$(echo "$output" | grep -E 'Malloc \(total\)' | head -n 1)
if [[ -z "$row" ]]; then
    echo "check-allocations: no Malloc (total) row in the benchmark output" >&2
    exit 1
fi
read -r -a cells <<<"$(echo "$row" | tr -d '│*' | sed 's/Malloc (total)//')"
# cells: p0 p25 p50 p75 p90 p99 p100 samples
p100=${cells[6]}
samples=${cells[7]}
if [[ "$p100" != "0" ]]; then
    echo "check-allocations: FAILED: a proxied request allocated up to $p100 times (p100 over $samples requests)" >&2
    exit 1
fi
echo "check-allocations: OK: 0 heap allocations per proxied request (p100 over $samples requests)"
