#!/usr/bin/python3
"""The exception path end to end, run in the client namespace by
exception_end_to_end_test.sh. eclb-dataplane owns lbn0 (af_packet; the LB kernel's side
of lbn0 is muted by an nftables ingress drop, as if DPDK had the NIC through vfio) and a
net_tap port, eclbk0, that is the LB kernel's interface: host address 10.99.0.3 on it,
the VIP on lo for eclb-control's L7 proxy. Checks: the L4 VIP is forwarded by DPDK; ping
and TCP to the host address, and the L7 VIP on the same address as the L4 one, go
through the exception port both ways; ARP for the host address is answered by the
kernel; the dataplane counts what it handed over."""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from harness import Eclbctl, Process, Results, fail_fast, gateways_pool_yaml, get_json, in_netns, wait_for  # noqa: E402

parser = argparse.ArgumentParser()
parser.add_argument("--bin", required=True)
parser.add_argument("--lb-netns", required=True)
args = parser.parse_args()

VIP, HOST, NAT, CLIENT = "10.99.0.100", "10.99.0.3", "10.99.0.2", "10.99.0.10"
results = Results()
work = tempfile.mkdtemp(prefix="eclb-exception-", dir="/dev/shm")
flows_path = f"/dev/hugepages/eclb-exception-{os.getpid()}"
ctl = Eclbctl(f"{args.bin}/control/cli/eclbctl", f"{work}/tables", f"{work}/stats", flows_path)

with open(f"{work}/eclb.yaml", "w") as f:
    f.write(f"""tables: {{ segment: {work}/tables, max_vips: 16, max_backends: 256, max_table_slots: 1048576 }}
control: {{ admin_socket: {work}/admin.sock, metrics: "off" }}
pools:
{gateways_pool_yaml()}vips:
  - {{ name: web, address: {VIP}, port: 80, mode: fullnat, pool: gateways }}
  - {{ name: agents, address: {VIP}, port: 8000, mode: l7, pool: gateways }}
dataplane:
  flows_per_worker: 65536
  flows_path: {flows_path}
  stats_path: {work}/stats
  ports:
    - {{ id: 0, ipv4: {NAT}/24, exception_port: 1 }}
""")


def lb(*command):
    return in_netns(args.lb_netns, *command)


get = get_json


def totals():
    return (ctl.json("stats") or {}).get("totals", {})


dataplane = Process("dataplane", [f"{args.bin}/dataplane/eclb-dataplane", "-l", "0,1", "--no-pci", "--in-memory",
                                  "--log-level=lib.*:error", "--vdev=net_af_packet0,iface=lbn0",
                                  "--vdev=net_tap0,iface=eclbk0", "--", "--config", f"{work}/eclb.yaml"],
                    work, netns=args.lb_netns)
# The kernel's side: its address on the TAP, the VIP on lo (the L7 proxy listens there).
if not wait_for(lambda: lb("ip", "link", "show", "eclbk0").returncode == 0, 20):
    print(dataplane.tail())
    fail_fast("eclb-dataplane created the TAP interface eclbk0")
lb("ip", "addr", "add", f"{HOST}/24", "dev", "eclbk0")
lb("ip", "link", "set", "eclbk0", "up")
lb("ip", "addr", "add", f"{VIP}/32", "dev", "lo")
control = Process("control", [f"{args.bin}/control/daemon/eclb-control", "--config", f"{work}/eclb.yaml"], work,
                  netns=args.lb_netns)
host_server = Process("host-http", ["/usr/bin/python3", "-m", "http.server", "2222", "--bind", HOST, "--directory", work],
                      work, netns=args.lb_netns)
try:
    if not wait_for(lambda: totals().get("table_generation", 0) >= 1, 30):
        print(dataplane.tail())
        fail_fast("eclb-dataplane forwards")
    tap_mac = lb("cat", "/sys/class/net/eclbk0/address").stdout.strip()
    nic_mac = lb("cat", "/sys/class/net/lbn0/address").stdout.strip()
    results.check(tap_mac == nic_mac, "the TAP carries the NIC's MAC", f"{tap_mac} {nic_mac}")

    answers = [(wait_for(lambda: get(f"http://{VIP}/n{i}"), 10, interval=0.5) or {}).get("gateway") for i in range(12)]
    results.check(set(answers) <= {"vm1", "vm2", "vm3"} and None not in answers and len(set(answers)) >= 2,
                  "L4 VIP :80 forwarded by eclb-dataplane (fullnat)", {g: answers.count(g) for g in set(answers)})

    ping = subprocess.run(["ping", "-c", "3", "-W", "1", HOST], capture_output=True)
    results.check(ping.returncode == 0, "ping to the host address: through the exception port and back")
    neighbours = subprocess.run(["ip", "neigh", "show", HOST], capture_output=True, text=True).stdout
    results.check(nic_mac in neighbours.lower(), "the host address resolves (the kernel answered ARP)", neighbours.strip())
    try:
        with urllib.request.urlopen(f"http://{HOST}:2222/", timeout=3) as response:
            host_ok = response.status == 200 and len(response.read()) > 0
    except OSError:
        host_ok = False
    results.check(host_ok, "TCP to a host service through the exception port")
    answer = wait_for(lambda: get(f"http://{VIP}:8000/vm3/agent"), 10, interval=0.5)
    results.check(answer is not None and answer["gateway"] == "vm3" and
                  answer["headers"].get("x-forwarded-for") == CLIENT,
                  "the L7 VIP on the L4 VIP's address: kernel and eclb-control through the exception port", answer)
    big = get(f"http://{HOST}:2222/eclb.yaml")  # not JSON: just a bigger transfer
    t = totals()
    results.check(t.get("exception_packets", 0) > 0 and t.get("drops", {}).get("exception_full", 1) == 0,
                  "eclbctl stats counts packets handed to the kernel, none lost",
                  f"exception_packets={t.get('exception_packets')} exception_full={t.get('drops', {}).get('exception_full')}")
finally:
    host_server.stop()
    results.check(control.stop() == 0, "eclb-control stops cleanly")
    results.check(dataplane.stop() == 0, "eclb-dataplane stops cleanly")
    if results.failed:
        print(dataplane.tail(20))
    if os.path.exists(flows_path):
        os.unlink(flows_path)
    shutil.rmtree(work, ignore_errors=True)
sys.exit(results.finish())
