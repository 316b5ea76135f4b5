#!/usr/bin/env bash
# eclb-dataplane as a process: it waits (and says so) for a missing table region, gives
# one clear line and a non-zero exit for a table region of another ABI, a missing port
# or no worker lcore, stops cleanly on SIGINT and SIGTERM, and forwards over net_memif
# (eclb-trafficgen as the peer) with 1 and 2 worker lcores.
# Usage: dataplane_process_test.sh BUILD_DIR
set -uo pipefail
bin=$(cd "$1" && pwd)
work=$(mktemp -d /dev/shm/eclb-dp-process.XXXXXX)
trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$work" /dev/hugepages/eclb-dp-process-$$' EXIT
passes=0 failures=0
pass() { echo "PASS: $1"; passes=$((passes + 1)); }
fail() { echo "FAIL: $1"; failures=$((failures + 1)); }
eal=(--no-pci --in-memory "--log-level=lib.*:error")

cat > "$work/eclb.yaml" <<YAML
tables: { segment: $work/tables, max_vips: 8, max_backends: 64, max_table_slots: 65536 }
pools:
  gw: { backends: [ { name: gw1, address: 10.0.0.11, port: 80 }, { name: gw2, address: 10.0.0.12, port: 80 } ] }
vips:
  - { name: web, address: 10.0.0.100, port: 80, mode: dsr-gue, pool: gw, table_size: 251 }
dataplane:
  flows_per_worker: 65536
  flows_path: /dev/hugepages/eclb-dp-process-$$
  stats_path: $work/stats
  ports:
    - id: 0
      ipv4: 10.0.0.2/24
      neighbours: [ { address: 10.0.0.11, mac: "02:00:00:00:01:11" }, { address: 10.0.0.12, mac: "02:00:00:00:01:12" } ]
YAML

# 1. No table region yet: it waits and says so; SIGTERM ends the wait cleanly.
"$bin/dataplane/eclb-dataplane" -l 0,1 "${eal[@]}" --vdev=net_null0 -- --config "$work/eclb.yaml" > "$work/wait.log" 2>&1 &
pid=$!
sleep 3
if kill -0 $pid 2>/dev/null && grep -q "waiting for the table region path=\"$work/tables\"" "$work/wait.log"; then
  pass "waits for a missing table region and says so"; else fail "wait: $(tail -3 "$work/wait.log")"; fi
kill -TERM $pid; wait $pid; status=$?
[ $status -eq 0 ] && pass "SIGTERM while waiting: exit 0" || fail "SIGTERM while waiting: exit $status"

# 2. A table region of another ABI major version: one error line, non-zero exit.
"$bin/control/daemon/eclb-control" --config "$work/eclb.yaml" --once 2>/dev/null
cp "$work/tables" "$work/tables-v9"
printf '\x09\x00\x00\x00' | dd of="$work/tables-v9" bs=1 seek=8 conv=notrunc status=none  # ABI 9.0
out=$("$bin/dataplane/eclb-dataplane" -l 0,1 "${eal[@]}" --vdev=net_null0 -- --config "$work/eclb.yaml" \
  --segment "$work/tables-v9" 2>&1); status=$?
if [ $status -ne 0 ] && echo "$out" | grep -q "error dp.runtime: $work/tables-v9: table region has ABI version 9.0, this build reads major version 1"; then
  pass "another ABI version: one clear error, exit $status"; else fail "ABI: $status $(echo "$out" | tail -2)"; fi

# 3. A port that does not exist.
out=$("$bin/dataplane/eclb-dataplane" -l 0,1 "${eal[@]}" --vdev=net_null0 -- --config "$work/eclb.yaml" \
  --port 3,ipv4=10.0.0.2/24 2>&1); status=$?
if [ $status -ne 0 ] && echo "$out" | grep -q "port 3 does not exist (1 DPDK ports"; then
  pass "missing port: one clear error"; else fail "port: $status $(echo "$out" | tail -2)"; fi

# 4. No worker lcore.
out=$("$bin/dataplane/eclb-dataplane" -l 0 "${eal[@]}" --vdev=net_null0 -- --config "$work/eclb.yaml" 2>&1); status=$?
if [ $status -ne 0 ] && echo "$out" | grep -q "no worker lcore"; then pass "no worker lcore: one clear error"; else
  fail "lcores: $status $(echo "$out" | tail -2)"; fi

# 5. Forwarding over net_memif with 1 and 2 workers (one memif queue pair per worker; the
#    generator spreads bursts over them, memif has no RSS), then SIGINT.
#    Order matters: the DPDK 22.11 memif PMD unmaps its rings when the peer disconnects,
#    even under a worker polling them, so the generator reports, then holds the link
#    (--hold) until eclb-dataplane has stopped, and only then leaves. Stale sockets of an
#    earlier run are removed before each start.

# run_memif DATAPLANE_LCORES CONFIG SOCKET LOG GENERATOR_ARGS...: starts eclb-dataplane as
# the memif server, runs eclb-trafficgen against it, reads `eclbctl stats`, stops the
# dataplane with SIGINT and then the generator. Sets: gen_status, gen_report, stats,
# dp_status.
run_memif() {
  local lcores=$1 config=$2 sock=$3 log=$4
  shift 4
  rm -f "$sock" "$work/stats"
  "$bin/dataplane/eclb-dataplane" $lcores "${eal[@]}" \
    --vdev=net_memif0,role=server,socket=$sock,socket-abstract=no,mac=02:00:00:00:00:02 -- --config "$config" > "$log" 2>&1 &
  local dp=$!
  sleep 3
  "$bin/bench/eclb-trafficgen" -l 0 "${eal[@]}" --vdev=net_memif0,role=client,socket=$sock,socket-abstract=no \
    -- "$@" --hold 60 > "$work/gen.out" 2> "$work/gen.err" &
  local gen=$!
  # The report line comes once sending and draining are over; the link stays up.
  for _ in $(seq 1 300); do
    grep -q "holding the link" "$work/gen.err" && break
    kill -0 $gen 2>/dev/null || break
    sleep 0.1
  done
  gen_report=$(grep "eclb-trafficgen: sent" "$work/gen.err")
  local config_segment
  config_segment=$(sed -n 's/.*segment: \([^,]*\),.*/\1/p' "$config" | head -1)
  stats=$("$bin/control/cli/eclbctl" --segment "$config_segment" --stats "$work/stats" stats --json)
  kill -INT $dp; wait $dp; dp_status=$?
  wait $gen; gen_status=$?
}

for queues in 1 2; do
  lcores=$([ "$queues" = 1 ] && echo "-l 0,1" || echo "--lcores=0@0,1@1,2@1")
  run_memif "$lcores" "$work/eclb.yaml" "$work/m.sock" "$work/memif.log" \
    --scenario established --flows 1000 --seconds 2 --queues "$queues"
  [ $gen_status -eq 0 ] || fail "eclb-trafficgen exited with $gen_status: $(tail -2 "$work/gen.err")"
  read -r workers rx tx <<< "$(echo "$stats" | /usr/bin/python3 -c 'import json,sys; s=json.load(sys.stdin); t=s["totals"]; print(s["dataplane"]["workers"], t["rx_packets"], t["tx_packets"])')"
  busy=$(echo "$stats" | /usr/bin/python3 -c 'import json,sys; print(sum(1 for w in json.load(sys.stdin)["workers"] if w["rx_packets"] > 0))')
  if [ "$rx" -gt 100000 ] && [ "$tx" -ge $((rx * 99 / 100)) ] && [ "$busy" = "$queues" ] && [ $dp_status -eq 0 ]; then
    pass "net_memif with $workers worker(s), all busy: $tx of $rx frames tunnelled back, clean SIGINT exit"
  else
    fail "memif $workers workers: rx=$rx tx=$tx busy=$busy exit=$dp_status $(tail -3 "$work/memif.log")"
  fi
done

# 6. fullnat with 2 workers over memif: the generator plays clients and backends and
#    spreads packets with Toeplitz over eclb's RSS key, as a NIC would. Every reply must
#    reach the worker that owns its session (a wrong worker would count nat_no_session).
sed -e 's/mode: dsr-gue/mode: fullnat/' -e 's/port: 80 }/port: 8080 }/g' "$work/eclb.yaml" > "$work/nat.yaml"
sed -i "s|segment: $work/tables|segment: $work/nat-tables|" "$work/nat.yaml"
"$bin/control/daemon/eclb-control" --config "$work/nat.yaml" --once 2>/dev/null
run_memif "--lcores=0@0,1@1,2@1" "$work/nat.yaml" "$work/n.sock" "$work/nat.log" \
  --scenario fullnat --flows 2000 --seconds 2 --queues 2
reflected=$(echo "$gen_report" | sed -n 's/.*reflected \([0-9]*\) round trips \([0-9]*\).*/\1/p')
trips=$(echo "$gen_report" | sed -n 's/.*reflected \([0-9]*\) round trips \([0-9]*\).*/\2/p')
read -r sessions stray busy <<< "$(echo "$stats" | /usr/bin/python3 -c 'import json,sys; s=json.load(sys.stdin); t=s["totals"]; print(t["nat_sessions"], t["drops"]["nat_no_session"], sum(1 for w in s["workers"] if w["nat_replies"] > 0))')"
if [ "${trips:-0}" -gt 100000 ] && [ "$trips" -ge $((reflected * 99 / 100)) ] && [ "$stray" = 0 ] && [ "$sessions" = 2000 ] \
   && [ "$busy" = 2 ] && [ $dp_status -eq 0 ] && [ $gen_status -eq 0 ]; then
  pass "fullnat, 2 workers, sender-side Toeplitz: 2000 sessions, $trips of $reflected replies back to their clients, none on the wrong worker"
else
  fail "fullnat 2 workers: sessions=$sessions trips=$trips reflected=$reflected stray=$stray busy=$busy exit=$dp_status gen=$gen_status"
fi

# 7. A restart with another worker count cannot adopt the flow region (each worker owns
#    its own table): the region is created anew and every flow is forgotten.
"$bin/dataplane/eclb-dataplane" -l 0,1 "${eal[@]}" --vdev=net_null0 -- --config "$work/nat.yaml" > "$work/one.log" 2>&1 &
pid=$!
sleep 3
kill -TERM $pid; wait $pid
if grep -q 'flow region path=.* created workers=1 .* entries=0' "$work/one.log"; then
  pass "a restart with 1 worker instead of 2 starts with an empty flow region (documented)"
else
  fail "worker count change: $(grep 'flow region' "$work/one.log")"
fi

echo "$passes passed, $failures failed"
[ $failures -eq 0 ]
