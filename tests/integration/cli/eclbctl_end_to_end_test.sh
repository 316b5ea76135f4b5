#!/usr/bin/env bash
# eclb-control --once publishes a config, eclbctl reads it back from shared memory; two
# "hosts" (regions) built from the same backends in another order have equal digests;
# every failure is one line on stderr and a non-zero exit.
# Usage: eclbctl_end_to_end_test.sh ECLB_CONTROL ECLBCTL
set -uo pipefail
control=$1
ctl=$2
work=$(mktemp -d /dev/shm/eclbctl-test.XXXXXX)
trap 'rm -rf "$work"' EXIT
failures=0
passes=0
pass() { echo "PASS: $1"; passes=$((passes + 1)); }
fail() { echo "FAIL: $1"; failures=$((failures + 1)); }

# expect_error NAME EXPECTED_STDERR_LINE COMMAND...
expect_error() {
  local name=$1 expected=$2
  shift 2
  local err status
  err=$("$@" 2>&1 >/dev/null)
  status=$?
  if [ "$status" -ne 0 ] && [ "$err" = "$expected" ]; then pass "$name"; else
    fail "$name: status $status, stderr: $err (expected: $expected)"; fi
}

write_config() {  # write_config FILE SEGMENT ORDER
  local order=$3
  {
    echo "tables: { segment: $2 }"
    echo "pools:"
    echo "  gw:"
    echo "    backends:"
    if [ "$order" = forward ]; then
      for i in 1 2 3 4; do echo "      - { name: vm$i, address: 10.0.0.$i, port: 8080, weight: $i }"; done
    else
      for i in 4 3 2 1; do echo "      - { name: vm$i, address: 10.0.0.$i, port: 8080, weight: $i }"; done
    fi
    echo "vips:"
    echo "  - { name: web, address: 10.0.0.100, port: 443, pool: gw }"
  } > "$1"
}

write_config "$work/a.yaml" "$work/host-a" forward
write_config "$work/b.yaml" "$work/host-b" reverse
"$control" --config "$work/a.yaml" --once 2>/dev/null || fail "publish host a"
"$control" --config "$work/b.yaml" --once 2>/dev/null || fail "publish host b"

out=$("$ctl" --segment "$work/host-a" vips)
if echo "$out" | grep -qE '^web +10\.0\.0\.100:443 +tcp +fullnat +65537 +4 +4$'; then pass "vips lists the VIP"; else fail "vips: $out"; fi

summary=$("$ctl" --segment "$work/host-a" table web --json)
if /usr/bin/python3 -c '
import json, sys
t = json.loads(sys.argv[1])
assert t["vip"] == "web" and t["size"] == 65537 and t["generation"] == 1
assert "slots" not in t, "the raw slots only with --slots"
assert len(sys.argv[1]) < 4096, len(sys.argv[1])
' "$summary"; then pass "table --json without --slots is the summary, no raw slots"; else fail "table --json summary"; fi
if "$ctl" --segment "$work/host-a" table web --json --slots 0:65536 | /usr/bin/python3 -c '
import json, sys
t = json.load(sys.stdin)
assert len(t["slots"]) == 65537
counts = [0] * 4
for s in t["slots"]:
    counts[s] += 1
for b in t["backends"]:
    assert counts[b["index"]] == b["slots"], (b, counts)
    assert abs(b["slots"] / 65537 - b["weight"] / 10) < 0.01 * b["weight"] / 10, b
'; then pass "table --json --slots 0:65536 is complete and matches the weights"; else fail "table --json --slots"; fi

digest_a=$("$ctl" --segment "$work/host-a" table web --digest)
digest_b=$("$ctl" --segment "$work/host-b" table 10.0.0.100:443 --digest)
if [ -n "$digest_a" ] && [ "$digest_a" = "$digest_b" ]; then pass "same backends in another order: same digest ($digest_a)"; else
  fail "digests differ: $digest_a vs $digest_b"; fi

sed -i 's/weight: 4/weight: 5/' "$work/b.yaml"
"$control" --config "$work/b.yaml" --once 2>/dev/null || fail "republish host b"
digest_b2=$("$ctl" --segment "$work/host-b" table web --digest)
if [ "$digest_a" != "$digest_b2" ]; then pass "a weight change changes the digest"; else fail "digest unchanged after a weight change"; fi
if "$ctl" --segment "$work/host-b" --json vips | grep -q '"generation": 2'; then pass "republish bumps the generation"; else fail "generation"; fi

slots=$("$ctl" --segment "$work/host-a" table web --slots 100:104 | tail -n +3 | wc -l)
if [ "$slots" = 5 ]; then pass "--slots prints the range"; else fail "--slots printed $slots rows"; fi

expect_error "missing segment" "eclbctl: cannot open $work/absent: No such file or directory" \
  "$ctl" --segment "$work/absent" vips
expect_error "unknown VIP" 'eclbctl: unknown VIP "nope" (not a VIP name or ADDRESS:PORT)' \
  "$ctl" --segment "$work/host-a" table nope
cp "$work/host-a" "$work/v9"
printf '\x09\x00\x00\x00' | dd of="$work/v9" bs=1 seek=8 conv=notrunc status=none   # ABI 9.0
expect_error "other ABI version" "eclbctl: $work/v9: table region has ABI version 9.0, this build reads major version 1" \
  "$ctl" --segment "$work/v9" vips
head -c 1000 /dev/urandom > "$work/garbage"
err=$("$ctl" --segment "$work/garbage" vips 2>&1 >/dev/null); status=$?
if [ $status -ne 0 ] && [ "$(echo "$err" | wc -l)" = 1 ] && echo "$err" | grep -q "not an eclb table region"; then
  pass "garbage segment"; else fail "garbage segment: $status $err"; fi

echo "pools: { gw: { backends: [ { address: 10.0.0.1, port: 99999 } ] } }" > "$work/bad.yaml"
expect_error "eclb-control --check names file, line and field" \
  "$work/bad.yaml:1: pools.gw.backends[0].port: 99999 is out of range 1-65535" "$control" --config "$work/bad.yaml" --check
if "$control" --config "$work/a.yaml" --check | grep -q "OK (1 VIPs, 1 pools, 4 backends)"; then pass "--check accepts a good file"; else fail "--check good"; fi

echo "$passes passed, $failures failed"
[ "$failures" -eq 0 ]
