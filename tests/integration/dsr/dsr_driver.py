#!/usr/bin/python3
"""End-to-end DSR test, run inside the client namespace by dsr_end_to_end_test.sh: real
TCP connections from the client to the VIP through eclb-dataplane (a veth port through
af_packet or af_xdp) to three gateways that decapsulate with the XDP program and answer
directly. Checks that connections land where `eclbctl which` (Maglev) says, that data
echoes intact, and that removing a gateway moves only its flows."""
import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import harness  # noqa: E402
from harness import Eclbctl, Process, Results, wait_for  # noqa: E402

parser = argparse.ArgumentParser()
parser.add_argument("--bin", required=True)
parser.add_argument("--lb-netns", required=True)
parser.add_argument("--mode", choices=["dsr-ipip", "dsr-gue"], required=True)
parser.add_argument("--pmd", choices=["af_packet", "af_xdp"], required=True)
args = parser.parse_args()

VIP, PORT = "10.99.0.100", 8080
GATEWAYS = {"gw1": "10.99.0.21", "gw2": "10.99.0.22", "gw3": "10.99.0.23"}
results = Results()
work = tempfile.mkdtemp(prefix="eclb-dsr-", dir="/dev/shm")
flows_path = f"/dev/hugepages/eclb-e2e-{os.getpid()}"


def write_config(gateways):
    backends = "\n".join(f"      - {{ name: {n}, address: {a}, port: {PORT} }}" for n, a in gateways.items())
    with open(f"{work}/eclb.yaml", "w") as f:
        f.write(f"""tables: {{ segment: {work}/tables, max_vips: 16, max_backends: 256, max_table_slots: 1048576 }}
pools:
  gateways:
    backends:
{backends}
vips:
  - {{ name: watchers, address: {VIP}, port: {PORT}, mode: {args.mode}, pool: gateways }}
dataplane:
  flows_per_worker: 65536
  flows_path: {flows_path}
  stats_path: {work}/stats
  ports:
    - {{ id: 0, ipv4: 10.99.0.2/24 }}
""")


ctl = Eclbctl(f"{args.bin}/control/cli/eclbctl", f"{work}/tables", f"{work}/stats", flows_path)
vdev = ("net_af_packet0,iface=lbn0" if args.pmd == "af_packet"
        else "net_af_xdp0,iface=lbn0,start_queue=0,queue_count=1")
write_config(GATEWAYS)
control = Process("control", [f"{args.bin}/control/daemon/eclb-control", "--config", f"{work}/eclb.yaml"], work)
dataplane = Process("dataplane", [f"{args.bin}/dataplane/eclb-dataplane", "-l", "0,1", "--no-pci", "--in-memory",
                                  "--log-level=lib.*:error", f"--vdev={vdev}", "--", "--config", f"{work}/eclb.yaml"],
                    work, netns=args.lb_netns)


def generation():
    stats = ctl.json("stats")
    return stats["totals"]["table_generation"] if stats else 0


def predicted(port):
    which = ctl.json("which", "watchers", f"10.99.0.10:{port}")
    return which["backend"]["name"] if which and which["backend"] else None


def open_connections(ports, timeout=3):
    return harness.open_connections(VIP, PORT, ports, timeout)


exit_code = 1
try:
    if not wait_for(lambda: generation() >= 1, 30):
        print(dataplane.tail())
        raise SystemExit(results.check(False, "dataplane forwards with generation 1"))
    results.check(True, f"eclb-dataplane on {args.pmd} forwards with table generation 1")
    # The first ARP round trip: wait until the VIP answers a connection.
    wait_for(lambda: subprocess.run(["ping", "-c", "1", "-W", "1", VIP], capture_output=True).returncode == 0, 15)

    ports = list(range(41000, 41060))
    connections, errors = open_connections(ports)
    results.check(not errors and len(connections) == 60, "60 real TCP connections to the VIP", "; ".join(errors[:3]))
    mismatches = [(c.port, c.backend, predicted(c.port)) for c in connections if c.backend != predicted(c.port)]
    results.check(not mismatches, "every connection lands where `eclbctl which` (Maglev) says", mismatches[:5])
    spread = {name: sum(c.backend == name for c in connections) for name in GATEWAYS}
    results.check(all(spread.values()), f"connections spread over all gateways {spread}")
    results.check(all(c.seen_as == f"10.99.0.10:{c.port}" for c in connections),
                  "gateways see the client's own address (DSR)")
    results.check(all(c.echo(4096) for c in connections), "4 KiB echoed intact on every connection")
    # Full-size segments (1500 bytes) do not fit the tunnel: the balancer answers "too
    # big", the client lowers its path MTU and retransmits. The echo above needed that.
    stats = ctl.json("stats")
    results.check(stats["totals"]["icmp_too_big_sent"] >= 1, "path MTU discovery through the tunnel works",
                  f"too-big sent {stats['totals']['icmp_too_big_sent']}")

    stats = ctl.json("stats")
    flows = ctl.json("flows", "watchers", "--limit", "0")
    results.check(flows is not None and flows["flows"] >= 60, "eclbctl flows lists the flows",
                  flows["flows"] if flows else None)

    # gw2 leaves the pool: only its flows move.
    write_config({n: a for n, a in GATEWAYS.items() if n != "gw2"})
    os.kill(control.popen.pid, signal.SIGHUP)
    results.check(wait_for(lambda: generation() >= 2, 10), "the dataplane picks up generation 2 after SIGHUP")
    staying = [c for c in connections if c.backend != "gw2"]
    moved = [c for c in connections if c.backend == "gw2"]
    broken = []
    for c in staying:
        try:
            if not c.echo(1024):
                broken.append(c.port)
        except OSError:
            broken.append(c.port)
    results.check(not broken, f"all {len(staying)} connections of gw1/gw3 keep working", broken[:5])
    survived = 0
    for c in moved:
        try:
            survived += c.echo(64)
        except OSError:
            pass
    results.check(survived == 0, f"the {len(moved)} connections of gw2 moved (reset by their new gateway)")
    stats = ctl.json("stats")
    results.check(stats["totals"]["flow_repicks"] >= len(moved), "their flows were picked again",
                  stats["totals"]["flow_repicks"])
    fresh, errors = open_connections(range(42000, 42030))
    results.check(not errors and all(c.backend != "gw2" for c in fresh), "new connections avoid gw2", errors[:3])
    results.check(all(c.backend == predicted(c.port) for c in fresh), "and land where Maglev says")
    for c in connections + fresh:
        c.sock.close()

    stats = ctl.json("stats")
    unexpected = {k: v for k, v in stats["totals"]["drops"].items()
                  if v and k not in ("not_for_us", "neighbour_unresolved", "too_big", "foreign_mac", "slow_path_drop")}
    # Not ours: the gateways' own traffic flooded by the bridge (foreign_mac, not_for_us),
    # their ARP for each other (slow_path_drop).
    results.check(not unexpected, "no unexpected drops", unexpected)
    print(ctl.text("stats"))
    status = dataplane.stop()
    results.check(status == 0, "eclb-dataplane stops cleanly on SIGTERM", status)
    exit_code = 0
finally:
    if dataplane.alive():
        dataplane.stop()
    control.stop()
    if results.failed:
        print("--- dataplane log ---\n" + dataplane.tail(40))
    subprocess.run(["rm", "-rf", work, flows_path])
sys.exit(results.finish())
