#!/usr/bin/python3
"""XDP steering end to end, run in the client namespace by steering_end_to_end_test.sh.
The LB namespace is a VM: one NIC (lbn0), the kernel's own address 10.99.0.3 and the VIP
10.99.0.100 on lo. eclb-dataplane takes lbn0 through net_af_xdp with xdp_prog= the
steering program; eclb-control runs in the same namespace with an L4 fullnat VIP on :80
and an L7 VIP on :8000 of the same address. Checks: L4 traffic goes through DPDK (the
gateway sees the fullnat address), the L7 VIP and host services are answered by the
kernel, ARP for the VIP by the dataplane; the steering counters agree; a VIP removed by
reload leaves the steering maps; and without the program (the PMD's default) the host
loses the interface."""
import argparse
import json
import os
import shutil
import socket
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
work = tempfile.mkdtemp(prefix="eclb-steer-", dir="/dev/shm")
flows_path = f"/dev/hugepages/eclb-steer-{os.getpid()}"
ctl = Eclbctl(f"{args.bin}/control/cli/eclbctl", f"{work}/tables", f"{work}/stats", flows_path)
STEER = f"{args.bin}/bpf/xdp_steer.bpf.o"


def write_config(with_l4=True):
    l4 = f"  - {{ name: web, address: {VIP}, port: 80, mode: fullnat, pool: gateways }}\n" if with_l4 else ""
    with open(f"{work}/eclb.yaml", "w") as f:
        f.write(f"""tables: {{ segment: {work}/tables, max_vips: 16, max_backends: 256, max_table_slots: 1048576 }}
control: {{ admin_socket: {work}/admin.sock, metrics: "off" }}
pools:
{gateways_pool_yaml()}vips:
{l4}  - {{ name: agents, address: {VIP}, port: 8000, mode: l7, pool: gateways }}
dataplane:
  flows_per_worker: 65536
  flows_path: {flows_path}
  stats_path: {work}/stats
  ports:
    - {{ id: 0, ipv4: {NAT}/24 }}
""")


def start_dataplane(name, program=True):
    vdev = "net_af_xdp0,iface=lbn0,start_queue=0,queue_count=1" + (f",xdp_prog={STEER}" if program else "")
    return Process(name, [f"{args.bin}/dataplane/eclb-dataplane", "-l", "0,1", "--no-pci", "--in-memory",
                          "--log-level=lib.*:error", f"--vdev={vdev}", "--", "--config", f"{work}/eclb.yaml"],
                   work, netns=args.lb_netns)


get = get_json


def lb(*command):
    return in_netns(args.lb_netns, *command)


def own_map_id(name):
    """The id of map `name` of the XDP program attached to this test's lbn0: maps are
    named alike system-wide (other tests, other hosts' programs), so never look up by name."""
    try:
        attached = json.loads(lb("bpftool", "-j", "net", "show", "dev", "lbn0").stdout)
        program = next(x["id"] for entry in attached for x in entry.get("xdp", []))
        info = json.loads(lb("bpftool", "-j", "prog", "show", "id", str(program)).stdout)
        for map_id in info.get("map_ids", []):
            shown = json.loads(lb("bpftool", "-j", "map", "show", "id", str(map_id)).stdout)
            if shown.get("name") == name:
                return map_id
    except (ValueError, StopIteration, KeyError, TypeError):
        pass
    return None


def dump_own_map(name):
    map_id = own_map_id(name)
    if map_id is None:
        return None
    try:
        return json.loads(lb("bpftool", "-j", "map", "dump", "id", str(map_id)).stdout)
    except ValueError:
        return None


def steer_counters():
    entries = dump_own_map("eclb_steer_cnt")
    if entries is None:
        return {}
    names = ["l4", "local", "neighbour", "icmp", "kernel", "routing", "routing_dropped"]  # eclb_steer_counter
    counters = {}
    for entry in entries:
        key = entry.get("key")
        if key is None or isinstance(key, list):
            key = entry.get("formatted", {}).get("key", int(key[0], 16) if isinstance(key, list) else None)
        values = entry.get("formatted", {}).get("values") or entry.get("values", [])
        total = 0
        for value in values:
            v = value.get("value")
            total += v if isinstance(v, int) else int.from_bytes(bytes(int(b, 16) for b in v), "little")
        counters[names[key]] = total
    return counters


def l4_map_entries():
    entries = dump_own_map("eclb_l4_vips")
    return -1 if entries is None else len(entries)


write_config()
control = Process("control", [f"{args.bin}/control/daemon/eclb-control", "--config", f"{work}/eclb.yaml"], work,
                  netns=args.lb_netns)
host_server = Process("host-http", ["/usr/bin/python3", "-m", "http.server", "2222", "--bind", HOST, "--directory", work],
                      work, netns=args.lb_netns)
dataplane = start_dataplane("dataplane")
try:
    if not wait_for(lambda: (ctl.json("stats") or {}).get("totals", {}).get("table_generation", 0) >= 1, 30):
        print(dataplane.tail())
        fail_fast("eclb-dataplane attached the tables")
    with open(dataplane.log_path) as f:
        results.check("xdp steering" in f.read(), "eclb-dataplane found the steering program on lbn0")

    # L4 VIP through DPDK: the gateway sees the fullnat address, not the client.
    answer = wait_for(lambda: get(f"http://{VIP}/x"), 15, interval=0.5)
    results.check(answer is not None and answer["gateway"] in ("vm1", "vm2", "vm3"),
                  "L4 VIP :80 answered through eclb-dataplane (fullnat)", answer and answer["gateway"])
    answers = [(get(f"http://{VIP}/n{i}") or {}).get("gateway") for i in range(30)]
    results.check(set(answers) == {"vm1", "vm2", "vm3"}, "30 L4 connections, all answered, spread over the 3 gateways",
                  {g: answers.count(g) for g in set(answers)})

    # The same address, another port: eclb-control's L7 proxy through the kernel.
    answer = get(f"http://{VIP}:8000/vm2/agent")
    results.check(answer is not None and answer["gateway"] == "vm2" and
                  answer["headers"].get("x-forwarded-for") == CLIENT,
                  "L7 VIP :8000 on the same address served by the kernel (pinned, X-Forwarded-For)", answer)

    # Host traffic: the kernel's own address answers ping and its TCP service.
    ping = subprocess.run(["ping", "-c", "2", "-W", "1", HOST], capture_output=True)
    results.check(ping.returncode == 0, "ping to the host's own address (kernel)")
    try:
        with urllib.request.urlopen(f"http://{HOST}:2222/", timeout=3) as response:
            host_ok = response.status == 200
    except OSError:
        host_ok = False
    results.check(host_ok, "TCP to a host service on the shared NIC (kernel)")
    ping = subprocess.run(["ping", "-c", "2", "-W", "1", VIP], capture_output=True)
    results.check(ping.returncode == 0, "ping to the VIP (answered by eclb-dataplane)")
    neighbours = subprocess.run(["ip", "neigh", "show", VIP], capture_output=True, text=True).stdout
    lb_mac = lb("cat", "/sys/class/net/lbn0/address").stdout.strip()
    results.check(lb_mac in neighbours.lower(), "the VIP resolves to the shared NIC's MAC", neighbours.strip())

    counters = steer_counters()
    results.check(counters.get("l4", 0) > 0 and counters.get("kernel", 0) > 0 and counters.get("neighbour", 0) > 0 and
                  counters.get("local", 0) > 0 and counters.get("icmp", 0) > 0,
                  "steering counters: L4, local (fullnat replies), neighbour, ICMP to DPDK; the rest to the kernel",
                  counters)

    # A reload without the L4 VIP: its steering entry goes, the kernel gets :80 (nothing
    # listens there: refused) and :8000 still works.
    write_config(with_l4=False)
    control.popen.send_signal(1)  # SIGHUP
    removed = wait_for(lambda: l4_map_entries() == 0, 10)
    try:
        socket.create_connection((VIP, 80), timeout=2).close()
        refused = False
    except ConnectionRefusedError:
        refused = True
    except OSError:
        refused = False
    results.check(removed and refused and get(f"http://{VIP}:8000/vm1/") is not None,
                  "a VIP removed by reload leaves the steering map; its port falls back to the kernel",
                  f"entries={l4_map_entries()} refused={refused}")
    results.check(dataplane.stop() == 0, "eclb-dataplane stops cleanly")

    # Control: the PMD's default program sends everything to DPDK; the host loses lbn0.
    write_config()
    control.popen.send_signal(1)
    lb("ip", "neigh", "flush", "all")
    subprocess.run(["ip", "neigh", "flush", "all"])
    plain = start_dataplane("dataplane-default", program=False)
    wait_for(lambda: get(f"http://{VIP}/x") is not None, 15, interval=0.5)
    host_lost = subprocess.run(["ping", "-c", "2", "-W", "1", HOST], capture_output=True).returncode != 0
    with open(plain.log_path) as f:
        warned = "without eclb's steering program" in f.read()
    results.check(host_lost and warned, "without the steering program the host loses the interface (and a warning says so)",
                  f"host_lost={host_lost} warned={warned}")
    plain.stop()
finally:
    dataplane.stop()
    host_server.stop()
    results.check(control.stop() == 0, "eclb-control stops cleanly")
    if results.failed:
        print(dataplane.tail(20))
        print(control.tail(20))
    if os.path.exists(flows_path):
        os.unlink(flows_path)
    shutil.rmtree(work, ignore_errors=True)
sys.exit(results.finish())
