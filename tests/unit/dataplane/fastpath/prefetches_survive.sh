#!/bin/sh
# The burst pipeline's prefetches are in the compiled fast path. GCC once deleted every
# flow-entry prefetch (a call to a function holding only loads and __builtin_prefetch
# counts as pure, and its unused result made it dead), which cost the fullnat path a
# third of its rate and no functional test noticed. Counts the prefetch instructions of
# Worker::process_burst (packet line, a SYN's bucket line, entry line, second bucket, a
# reply's flow bucket and entry; classify is inlined into it). The count includes the
# copies inlining makes (8 with g++ 12 at -O2 and -O3; 7 without the SYN bucket prefetch).
# Usage: prefetches_survive.sh LIBECLB_FASTPATH
set -eu
LIB=$1
count() {
  objdump -d --no-show-raw-insn "$1" | awk -v fn="$2" '
    /^[0-9a-f]+ <.*>:$/ { inside = index($0, fn) > 0 }
    inside && /prefetch/ { n++ }
    END { print n + 0 }'
}
status=0
for check in "_ZN4eclb2dp6Worker13process_burst 8"; do
  set -- $check
  found=$(count "$LIB" "$1")
  if [ "$found" -ge "$2" ]; then
    echo "PASS: $1: $found prefetch instructions (at least $2)"
  else
    echo "FAIL: $1: $found prefetch instructions, expected at least $2"
    status=1
  fi
done
exit $status
