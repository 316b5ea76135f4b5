#!/usr/bin/env bash
# Benchmarks (never part of the test command): builds a release tree, runs the
# micro-benchmarks pinned to one core, then the traffic harness (eclb-dataplane and
# dpdk-testpmd over memif), which writes a JSON result and a PNG plot to $ECLB_RESULTS
# (default /tmp/eclb-results), the L7 comparison with nginx (bench/l7), the tier
# (bench/tier), and eclb beside nftables, HAProxy and nginx stream (bench/l4). Run as root on
# Debian 12: scripts/bench.sh
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh build-bench --buildtype=release -Dtests=disabled -Dbench=enabled >/dev/null
out=${ECLB_RESULTS:-/tmp/eclb-results}
mkdir -p "$out"
for bench in maglev_build_bench tls_handshake_bench request_head_bench packet_parser_bench flow_table_bench worker_pipeline_bench; do
  echo "== $bench"
  taskset -c 1 "build-bench/bench/$bench" --benchmark_out="$out/$bench.json" --benchmark_out_format=json 2>&1 \
    | grep -vE '^(EAL|TELEMETRY):'
done
echo "== health checks: 5000 backends every second"
/usr/bin/python3 bench/health/health_bench.py build-bench --out "$out"
echo "== traffic harness"
/usr/bin/python3 bench/traffic/run_traffic.py build-bench --out "$out"
echo "== L7: eclb-control's TLS proxy against nginx configured like the image"
bench/l7/l7_bench.sh build-bench "$out"
echo "== a tier of 1, 2 and 3 hosts behind ECMP: new DSR connections per second"
bench/tier/tier_bench.sh build-bench "$out"
echo "== L4: eclb (fullnat, dsr-ipip on af_xdp) beside nftables DNAT, HAProxy, nginx stream and direct"
bench/l4/l4_bench.sh build-bench "$out"
