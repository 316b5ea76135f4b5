#!/usr/bin/env bash
# Runs the packet pipeline fuzzer for a bounded time over the committed corpus (new
# inputs go to a scratch directory, so the tree stays clean). A crash, a leak or a
# sanitizer report fails the test and leaves the reproducer in the log.
# Usage: run_fuzzer.sh FUZZER_BINARY SECONDS
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
scratch=$(mktemp -d /tmp/eclb-fuzz.XXXXXX)
trap 'rm -rf "$scratch"' EXIT
cd "$scratch"
"$1" -max_total_time="$2" -max_len=2048 -timeout=10 -rss_limit_mb=4096 -print_final_stats=1 \
  "$scratch" "$here/corpus" 2>&1 | grep -vE '^(EAL|TELEMETRY):' | tail -25
status=${PIPESTATUS[0]}
[ "$status" -eq 0 ] && echo "fuzzing for $2 s found nothing"
exit "$status"
