#!/usr/bin/python3
"""End-to-end fullnat test, run inside the client namespace by fullnat_end_to_end_test.sh.
The gateways are unconfigured Linux hosts (an address, a TCP server; no VIP, no tunnel,
no route through the balancer). Checks: many concurrent connections echo every byte;
the gateways see eclb's local address; eclb-dataplane SIGKILLed and restarted under
traffic breaks no connection; a removed gateway's connections are reset and no other;
an exhausted local port range is a counted drop that recovers once connections close."""
import argparse
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import harness  # noqa: E402
from harness import Eclbctl, Process, Results, wait_for  # noqa: E402

parser = argparse.ArgumentParser()
parser.add_argument("--bin", required=True)
parser.add_argument("--lb-netns", required=True)
args = parser.parse_args()

VIP, PORT, NAT = "10.99.0.100", 443, "10.99.0.3"
GATEWAYS = {"gw1": "10.99.0.21", "gw2": "10.99.0.22", "gw3": "10.99.0.23"}
results = Results()
work = tempfile.mkdtemp(prefix="eclb-fullnat-", dir="/dev/shm")
flows_path = f"/dev/hugepages/eclb-fullnat-{os.getpid()}"
ctl = Eclbctl(f"{args.bin}/control/cli/eclbctl", f"{work}/tables", f"{work}/stats", flows_path)


def write_config(gateways):
    backends = "\n".join(f"      - {{ name: {n}, address: {a}, port: 8080 }}" for n, a in gateways.items())
    with open(f"{work}/eclb.yaml", "w") as f:
        f.write(f"""tables: {{ segment: {work}/tables, max_vips: 16, max_backends: 256, max_table_slots: 1048576 }}
pools:
  gateways:
    backends:
{backends}
vips:
  - {{ name: watchers, address: {VIP}, port: {PORT}, mode: fullnat, pool: gateways }}
dataplane:
  flows_per_worker: 65536
  flows_path: {flows_path}
  stats_path: {work}/stats
  timeouts: {{ tcp_syn: 5, tcp_closing: 2, tcp_closed: 2 }}
  ports:
    - {{ id: 0, ipv4: 10.99.0.2/24, nat_ipv4: [{NAT}] }}
""")


def start_dataplane(name, extra=()):
    return Process(name, [f"{args.bin}/dataplane/eclb-dataplane", "-l", "0,1", "--no-pci", "--in-memory",
                          "--log-level=lib.*:error", "--vdev=net_af_packet0,iface=lbn0", "--",
                          "--config", f"{work}/eclb.yaml", *extra], work, netns=args.lb_netns)


def stats():
    return ctl.json("stats") or {"totals": {"table_generation": 0, "drops": {}}}


def open_connections(ports, timeout=3):
    return harness.open_connections(VIP, PORT, ports, timeout)


write_config(GATEWAYS)
control = Process("control", [f"{args.bin}/control/daemon/eclb-control", "--config", f"{work}/eclb.yaml"], work)
dataplane = start_dataplane("dataplane")
try:
    if not wait_for(lambda: stats()["totals"]["table_generation"] >= 1, 30):
        print(dataplane.tail())
        raise SystemExit(results.check(False, "eclb-dataplane forwards"))

    # 1. Many concurrent connections, every byte echoed.
    connections, errors = open_connections(range(41000, 41100))
    results.check(not errors and len(connections) == 100, "100 concurrent TCP connections through fullnat", errors[:3])
    results.check(all(c.seen_as.startswith(f"{NAT}:") for c in connections),
                  f"gateways see eclb's local address {NAT}, not the client", connections[0].seen_as)
    ports = {c.seen_as for c in connections}
    results.check(len(ports) == 100, "each connection has its own local port", len(ports))
    spread = {n: sum(c.backend == n for c in connections) for n in GATEWAYS}
    results.check(all(spread.values()), f"spread over every gateway {spread}")
    results.check(all(c.echo(16384) for c in connections), "16 KiB echoed intact on every connection")

    # 2. SIGKILL and restart under traffic: nothing breaks.
    failures, rounds, stop = [], [0], threading.Event()

    def traffic():
        while not stop.is_set():
            for c in connections:
                try:
                    if not c.echo(512):
                        failures.append(c.port)
                except OSError as error:
                    failures.append(f"{c.port}: {error}")
            rounds[0] += 1

    for c in connections:
        c.sock.settimeout(20)
    thread = threading.Thread(target=traffic)
    thread.start()
    time.sleep(1)
    dataplane.stop(signal.SIGKILL)
    killed_at = time.monotonic()
    dataplane = start_dataplane("dataplane-restarted")
    wait_for(lambda: stats()["totals"]["table_generation"] >= 1 and dataplane.alive(), 30)
    rounds_at_restart = rounds[0]
    wait_for(lambda: rounds[0] >= rounds_at_restart + 2, 30)
    stop.set()
    thread.join()
    results.check(not failures and rounds[0] >= rounds_at_restart + 2,
                  f"eclb-dataplane SIGKILLed and restarted under traffic: all 100 connections carried on "
                  f"({rounds[0]} echo rounds, back {time.monotonic() - killed_at:.1f} s after the kill)", failures[:3])
    results.check("adopted" in open(dataplane.log_path).read(), "the restarted dataplane adopted the flow region")

    # 3. A gateway leaves: its connections are reset, every other one continues.
    for c in connections:
        c.sock.settimeout(3)
    write_config({n: a for n, a in GATEWAYS.items() if n != "gw2"})
    os.kill(control.popen.pid, signal.SIGHUP)
    results.check(wait_for(lambda: stats()["totals"]["table_generation"] >= 2, 10), "generation 2 after SIGHUP")
    broken = []
    for c in connections:
        if c.backend == "gw2":
            continue
        try:
            if not c.echo(1024):
                broken.append(c.port)
        except OSError:
            broken.append(c.port)
    moved = [c for c in connections if c.backend == "gw2"]
    reset = 0
    for c in moved:
        try:
            c.echo(64)
        except OSError:
            reset += 1
    results.check(not broken, f"the {100 - len(moved)} connections of gw1/gw3 continue", broken[:5])
    results.check(reset == len(moved), f"the {len(moved)} connections of gw2 were reset", reset)
    for c in connections:
        c.sock.close()

    # 4. Local port exhaustion: three local ports per backend.
    dataplane.stop()
    time.sleep(3)  # closing timeouts pass: every mapping above is free
    dataplane = start_dataplane("dataplane-small-pool", ["--port", f"0,ipv4=10.99.0.2/24,nat={NAT},nat_ports=50000-50002"])
    wait_for(lambda: stats()["totals"]["table_generation"] >= 2, 30)
    opened, errors = open_connections(range(43000, 43012), timeout=1.5)
    exhausted = stats()["totals"]["drops"].get("nat_ports_exhausted", 0)
    results.check(len(opened) <= 6 and errors and exhausted > 0,
                  f"an exhausted port range is a counted drop: {len(opened)} of 12 connected, nat_ports_exhausted={exhausted}")
    for c in opened:
        c.sock.close()
    time.sleep(3)
    again, errors = open_connections(range(44000, 44004), timeout=3)
    results.check(len(again) == 4, "once connections close (and the closing timeout passes) new ones get ports",
                  errors[:2])
    for c in again:
        c.sock.close()
    print(ctl.text("stats"))
    results.check(dataplane.stop() == 0, "eclb-dataplane stops cleanly")
finally:
    if dataplane.alive():
        dataplane.stop()
    control.stop()
    if results.failed:
        print("--- dataplane log ---\n" + dataplane.tail(30))
    subprocess.run(["rm", "-rf", work, flows_path])
sys.exit(results.finish())
