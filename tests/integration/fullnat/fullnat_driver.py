#!/usr/bin/python3
"""End-to-end fullnat test, run inside the client namespace by fullnat_end_to_end_test.sh.
The gateways are unconfigured Linux hosts (an address, a TCP server; no VIP, no tunnel,
no route through the balancer). Checks: many concurrent connections echo every byte;
the gateways see eclb's local address; eclb-dataplane SIGKILLed and restarted under
traffic breaks no connection (with --port-kind af_xdp: on net_af_xdp with the steering
program, which a killed dataplane leaves attached for the next run to take over); a
removed gateway's connections are reset and no other; local ports reused after a restart
answer the first SYN; an exhausted local port range is a counted drop that recovers
once connections close."""
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
parser.add_argument("--port-kind", choices=["af_packet", "af_xdp"], default="af_packet")
args = parser.parse_args()

# On af_xdp the LB namespace's kernel shares the NIC (topology "steer"): it holds
# 10.99.0.3 and the VIP on lo, so the dataplane's fullnat address is another one.
VIP, PORT = "10.99.0.100", 443
NAT = "10.99.0.4" if args.port_kind == "af_xdp" else "10.99.0.3"
VDEV = (f"net_af_xdp0,iface=lbn0,start_queue=0,queue_count=1,xdp_prog={args.bin}/bpf/xdp_steer.bpf.o"
        if args.port_kind == "af_xdp" else "net_af_packet0,iface=lbn0")
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
                          "--log-level=lib.*:error", f"--vdev={VDEV}", "--",
                          "--config", f"{work}/eclb.yaml", *extra], work, netns=args.lb_netns)


def forwarding(process):
    """Waits until this run of eclb-dataplane forwards (the stats file of the previous run
    would answer sooner: it outlives its process)."""
    return wait_for(lambda: process.logged("forwarding workers=") or not process.alive(), 30) and process.alive()


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
    forwarding(dataplane)
    rounds_at_restart = rounds[0]
    wait_for(lambda: rounds[0] >= rounds_at_restart + 2, 30)
    stop.set()
    thread.join()
    results.check(not failures and rounds[0] >= rounds_at_restart + 2,
                  f"eclb-dataplane SIGKILLed and restarted under traffic: all 100 connections carried on "
                  f"({rounds[0]} echo rounds, back {time.monotonic() - killed_at:.1f} s after the kill)", failures[:3])
    results.check("adopted" in open(dataplane.log_path).read(), "the restarted dataplane adopted the flow region")
    unresolved = stats()["totals"]["drops"].get("neighbour_unresolved", 0)
    results.check(dataplane.logged("neighbours adopted=") and unresolved == 0,
                  f"it forwarded from its first packet with the next hops the killed run had resolved "
                  f"(neighbour_unresolved={unresolved})")

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
    # Let the closes finish (FIN both ways) before the dataplane stops: a FIN held over a
    # restart is retransmitted into the next run, to a local port that may be reused by
    # then (see the README on short closing timeouts).
    time.sleep(1)

    # 4. Local ports reused after a restart. 64 ports: 64 connections opened and closed;
    #    once the closing timeout has passed, eclb-dataplane restarts (its port choice
    #    starts over at the first port) and 64 new connections take the same ports. Each
    #    must connect at once: a SYN-ACK lost to a stale mapping costs the gateway's 1 s
    #    retransmit (nat_no_session).
    dataplane.stop()
    time.sleep(3)  # closing timeouts pass: every mapping above is free
    small = ["--port", f"0,ipv4=10.99.0.2/24,nat={NAT},nat_ports=50000-50063"]
    dataplane = start_dataplane("dataplane-64-ports", small)
    forwarding(dataplane)
    first, errors = open_connections(range(45000, 45064))
    results.check(len(first) == 64, "64 connections over 64 local ports", errors[:2])
    for c in first:
        c.sock.close()
    time.sleep(3)
    dataplane.stop()
    dataplane = start_dataplane("dataplane-64-ports-restarted", small)
    forwarding(dataplane)
    slow, opened = [], []
    for client_port in range(46000, 46064):
        started = time.monotonic()
        try:
            opened.append(harness.GatewayConnection(VIP, PORT, client_port, 3))
            if time.monotonic() - started > 0.5:
                slow.append(f"{client_port}: {time.monotonic() - started:.1f} s")
        except OSError as error:
            slow.append(f"{client_port}: {error}")
    drops = stats()["totals"]["drops"]
    stray, unresolved = drops.get("nat_no_session", 0), drops.get("neighbour_unresolved", 0)
    results.check(not slow and stray == 0 and unresolved == 0,
                  f"after a restart, 64 connections on reused local ports each connect at once "
                  f"(nat_no_session={stray}, neighbour_unresolved={unresolved})", slow[:3])
    for c in opened:
        c.sock.close()
    time.sleep(1)

    # 5. Local port exhaustion: three local ports per backend.
    dataplane.stop()
    time.sleep(3)
    dataplane = start_dataplane("dataplane-small-pool", ["--port", f"0,ipv4=10.99.0.2/24,nat={NAT},nat_ports=50000-50002"])
    forwarding(dataplane)
    opened, errors = open_connections(range(43000, 43012), timeout=1.5)
    exhausted = stats()["totals"]["drops"].get("nat_ports_exhausted", 0)
    results.check(len(opened) <= 6 and errors and exhausted > 0,
                  f"an exhausted port range is a counted drop: {len(opened)} of 12 connected, nat_ports_exhausted={exhausted}", [(c.backend, c.seen_as) for c in opened])
    for c in opened:
        c.sock.close()
    time.sleep(3)
    again, errors = open_connections(range(44000, 44004), timeout=3)
    results.check(len(again) == 4, "once connections close (and the closing timeout passes) new ones get ports",
                  errors[:2])
    for c in again:
        c.sock.close()
    # 6. Every frame accounted for: with eclb-dataplane frozen (SIGSTOP), 3000 datagrams
    #    overflow the port's RX ring; once it runs again, what the workers saw plus what the
    #    port counted as missed is every frame the client sent.
    if args.port_kind == "af_packet":
        import socket as sockets
        before = stats()
        sender = sockets.socket(sockets.AF_INET, sockets.SOCK_DGRAM)
        sender.bind(("10.99.0.10", 47000))
        os.kill(dataplane.popen.pid, signal.SIGSTOP)
        sent = 0
        for batch in range(30):  # paced, so that only the stopped port drops (not the kernel's backlog)
            for _ in range(100):
                sender.sendto(b"x" * 18, (VIP, 9999))
                sent += 1
            time.sleep(0.002)
        time.sleep(0.2)
        os.kill(dataplane.popen.pid, signal.SIGCONT)
        time.sleep(1.5)
        after = stats()
        worker_rx = after["totals"]["rx_packets"] - before["totals"]["rx_packets"]
        port_before, port_after = before["ports"][0], after["ports"][0]
        missed = port_after["rx_missed"] - port_before["rx_missed"]
        port_rx = port_after["rx_packets"] - port_before["rx_packets"]
        results.check(missed > 0 and sent <= worker_rx + missed <= sent + 50 and abs(port_rx - worker_rx) <= 50,
                      f"every frame accounted for: {sent} sent, {worker_rx} seen by the worker, {missed} missed by "
                      f"the {port_after['driver']} port while the dataplane was stopped")
        text = ctl.text("stats")
        results.check("rx-missed" in text and "neighbours:" in text, "eclbctl stats shows the port's own counters")

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
