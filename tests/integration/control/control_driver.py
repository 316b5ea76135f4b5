#!/usr/bin/python3
"""eclb-control end to end, run inside the client namespace by
control_end_to_end_test.sh: the whole system from an environment.env — eclb-control
(health checks by WebSocket upgrade to /agent), eclb-dataplane (fullnat), three
WebSocket gateways and real WebSocket clients. Checks: a killed gateway leaves the table
within fall x interval (+ publication) and new connections avoid it; restarted, it comes
back after rise x interval; a drained gateway gets no new connections while its existing
ones continue; a reload with a bad file keeps the running config; SIGKILLing
eclb-control under traffic breaks no connection and a restarted one adopts the tables;
eclbctl health and the metrics endpoint show all of it."""
import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request

import websockets

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from harness import Eclbctl, Process, Results, exposition_problems, wait_for  # noqa: E402

parser = argparse.ArgumentParser()
parser.add_argument("--bin", required=True)
parser.add_argument("--lb-netns", required=True)
parser.add_argument("--gw-netns", required=True, nargs=3)
args = parser.parse_args()

HERE = os.path.dirname(os.path.abspath(__file__))
VIP = "10.99.0.100"
INTERVAL_MS, FALL, RISE = 300, 2, 2
results = Results()
work = tempfile.mkdtemp(prefix="eclb-control-", dir="/dev/shm")
flows_path = f"/dev/hugepages/eclb-control-{os.getpid()}"
ctl = Eclbctl(f"{args.bin}/control/cli/eclbctl", f"{work}/tables", f"{work}/stats", flows_path)
ctl.base += ["--admin", f"{work}/admin.sock"]

with open(f"{work}/environment.env", "w") as f:
    f.write('GATEWAY_LIST="10.99.0.21:8080 10.99.0.22:8080 10.99.0.23:8080"\nDNS_NAME=watchers.test\n'
            f"ECLB_VIP={VIP}\n")
BASE = f"""tables: {{ segment: {work}/tables, max_vips: 16, max_backends: 256, max_table_slots: 1048576 }}
control: {{ admin_socket: {work}/admin.sock, metrics: 127.0.0.1:19469 }}
pools:
  gateways:
    health: {{ check: websocket, path: /agent, interval_ms: {INTERVAL_MS}, timeout_ms: 250, rise: {RISE}, fall: {FALL} }}
    backends: []
dataplane:
  flows_per_worker: 65536
  flows_path: {flows_path}
  stats_path: {work}/stats
  ports:
    - {{ id: 0, ipv4: 10.99.0.2/24 }}
"""
with open(f"{work}/base.yaml", "w") as f:
    f.write(BASE)

gateways = {}


def start_gateway(index):
    gateways[index] = Process(f"gw{index}", ["/usr/bin/python3", f"{HERE}/../lib/ws_gateway.py", "--name", f"vm{index}",
                                             "--lifetime", "600"], work, netns=args.gw_netns[index - 1])


def start_control(name):
    return Process(name, [f"{args.bin}/control/daemon/eclb-control", "--env-file", f"{work}/environment.env",
                          "--config", f"{work}/base.yaml"], work)


def generation():
    tables = ctl.json("vips")
    return tables["generation"] if tables else 0


def states():
    backends = ctl.json("backends", "gateways")
    return {b["name"]: b["state"] for b in backends["backends"]} if backends else {}


async def open_clients(count):
    clients = []
    for _ in range(count):
        ws = await websockets.connect(f"ws://{VIP}/agent", open_timeout=3, ping_interval=None)
        greeting = await asyncio.wait_for(ws.recv(), 3)
        clients.append((ws, greeting.split()[0]))
    return clients


async def echo_all(clients):
    broken = []
    for ws, gateway in clients:
        try:
            await ws.send(f"hello {gateway}")
            if await asyncio.wait_for(ws.recv(), 3) != f"hello {gateway}":
                broken.append(gateway)
        except Exception as error:  # noqa: BLE001 — any failure is a broken connection
            broken.append(f"{gateway}: {type(error).__name__}")
    return broken


def spread(clients):
    counts = {}
    for _, gateway in clients:
        counts[gateway] = counts.get(gateway, 0) + 1
    return dict(sorted(counts.items()))


async def scenario():
    global control
    for index in (1, 2, 3):
        start_gateway(index)
    time.sleep(1)
    if not wait_for(lambda: generation() >= 1 and len(states()) == 3, 20):
        return results.check(False, "eclb-control publishes the environment.env tables")
    results.check(True, "eclb-control --env-file environment.env publishes pool gateways with vm1..vm3")
    if not wait_for(lambda: (ctl.json("stats") or {}).get("totals", {}).get("table_generation", 0) >= 1, 30):
        return results.check(False, "eclb-dataplane forwards")

    clients = await open_clients(30)
    results.check(len(spread(clients)) == 3, f"30 WebSocket clients through the VIP reach every gateway {spread(clients)}")
    results.check(not await echo_all(clients), "every client's messages echo")
    health = ctl.json("health")
    results.check(health is not None and all(b["health"] == "up" and b["checks"] > 0 and b["last_ok"] for b in health),
                  "eclbctl health: every gateway up, checked by WebSocket upgrade")

    # A gateway dies.
    before = generation()
    gateways[2].stop(signal.SIGKILL)
    killed = time.monotonic()
    down = wait_for(lambda: states().get("vm2") == "down", 10)
    took = time.monotonic() - killed
    bound = FALL * INTERVAL_MS * 1.1 / 1000 + INTERVAL_MS / 1000 + 0.5
    results.check(down and took < bound, f"killed vm2 leaves the table in {took:.2f} s (bound {bound:.2f} s)")
    results.check(generation() == before + 1, "one publication for that change", f"{before} -> {generation()}")
    fresh = await open_clients(20)
    results.check(all(g != "vm2" for _, g in fresh), f"new connections avoid vm2 {spread(fresh)}")
    survivors = [c for c in clients if c[1] != "vm2"]
    results.check(not await echo_all(survivors), f"the {len(survivors)} connections of vm1/vm3 continue")

    # It comes back.
    start_gateway(2)
    started = time.monotonic()
    up = wait_for(lambda: states().get("vm2") == "up", 10)
    took = time.monotonic() - started
    results.check(up and took < RISE * INTERVAL_MS * 1.1 / 1000 + INTERVAL_MS / 1000 + 1.5,
                  f"restarted vm2 returns in {took:.2f} s")
    back = await open_clients(30)
    results.check(any(g == "vm2" for _, g in back), f"new connections reach vm2 again {spread(back)}")

    # Drain vm3: no new connections, the existing ones continue.
    out = subprocess.run(ctl.base + ["drain", "vm3"], capture_output=True, text=True)
    results.check(out.returncode == 0 and states().get("vm3") == "drained", "eclbctl drain vm3", out.stdout.strip())
    on_vm3 = [c for c in clients + back if c[1] == "vm3"]
    drained = await open_clients(30)
    results.check(all(g != "vm3" for _, g in drained), f"a drained vm3 gets no new connections {spread(drained)}")
    results.check(on_vm3 and not await echo_all(on_vm3), f"its {len(on_vm3)} existing connections continue")
    subprocess.run(ctl.base + ["undrain", "vm3"], capture_output=True)

    # what-if: removing vm1 moves its third of the table, and exactly its current flows.
    whatif = ctl.json("what-if", "gateways", "--remove", "vm1")
    flows = ctl.json("flows", "gateways", "--limit", "0")
    on_vm1 = flows["by_backend"].get("vm1", 0) if flows else -1
    results.check(whatif is not None and abs(whatif["slots_moved_share"] - 1 / 3) < 0.01 and whatif["flows_moved"] == on_vm1,
                  f"what-if --remove vm1: {whatif and whatif['slots_moved_share']:.3f} of the slots (vm1's third), "
                  f"{whatif and whatif['flows_moved']} flows = the {on_vm1} flows on vm1")

    # A weight ramp through the admin socket.
    out = subprocess.run(ctl.base + ["weight", "vm1", "3", "--ramp", "1s"], capture_output=True, text=True)
    ramped = wait_for(lambda: any(b["name"] == "vm1" and b["weight"] == 3
                                  for b in (ctl.json("backends", "gateways") or {"backends": []})["backends"]), 5)
    listing = ctl.json("backends", "gateways")["backends"]
    shares = {b["name"]: b["share"] for b in listing}
    results.check(out.returncode == 0 and ramped and abs(shares["vm1"] - 0.6) < 0.01,
                  f"eclbctl weight vm1 3 --ramp 1s: weight 3 reached, vm1 owns {shares['vm1']:.3f} of the table")
    subprocess.run(ctl.base + ["weight", "vm1", "1"], capture_output=True)
    mode = oct(os.stat(f"{work}/admin.sock").st_mode & 0o777)
    results.check(mode == "0o600", "the admin socket is mode 0600", mode)

    # A bad reload keeps the running config.
    before = generation()
    with open(f"{work}/base.yaml", "w") as f:
        f.write(BASE.replace("interval_ms:", "intervall_ms:"))
    out = subprocess.run(ctl.base + ["reload"], capture_output=True, text=True)
    results.check(out.returncode != 0 and "reload rejected, keeping the running config" in out.stderr
                  and "intervall_ms" in out.stderr, "eclbctl reload of a bad file is rejected with the error",
                  out.stderr.strip()[:160])
    out = subprocess.run(ctl.base + ["--json", "reload"], capture_output=True, text=True)
    try:
        answer = json.loads(out.stdout)
    except ValueError:
        answer = {}
    results.check(out.returncode != 0 and answer.get("ok") is False and "intervall_ms" in answer.get("error", ""),
                  "eclbctl --json reload of a bad file answers JSON too", out.stdout.strip()[:160])
    logged = control.logged("reload requested through the admin socket") and \
        "reload rejected, keeping the running config" in control.tail(5)
    results.check(logged, "a reload rejected through the admin socket is logged as a SIGHUP one is", control.tail(2))
    os.kill(control.popen.pid, signal.SIGHUP)
    time.sleep(0.5)
    results.check(generation() == before and control.alive(), "SIGHUP with the bad file: same tables, still running")
    results.check(not await echo_all(drained[:10]), "and traffic flows")
    with open(f"{work}/base.yaml", "w") as f:
        f.write(BASE)

    # Metrics.
    metrics = urllib.request.urlopen("http://127.0.0.1:19469/metrics", timeout=3).read().decode()
    wanted = ['eclb_backend_healthy{pool="gateways",backend="vm2",address="10.99.0.22:8080"} 1',
              'eclb_vip_backends_up{vip="gateways"} 3', "eclb_dataplane_up 1", 'eclb_reload_failures_total 3',
              'eclb_vip_new_flows_total{vip="gateways"}', 'eclb_port_rx_missed_total{port="0",driver="net_af',
              'eclb_port_rx_packets_total{port="0"', 'eclb_dataplane_neighbour_messages_total{what="learned"}',
              'eclb_port_xstat{port="0",name="rx_good_packets"}']
    missing = [w for w in wanted if w not in metrics]
    results.check(not missing, "metrics show health, VIP members, dataplane counters and failed reloads", missing)
    families, problems = exposition_problems(metrics)
    results.check(families > 20 and not problems,
                  f"/metrics read by prometheus_client: {families} families, each one group with its TYPE", problems[:5])

    # SIGKILL eclb-control under traffic: nothing breaks; a new one adopts the tables.
    everyone = survivors + back + drained
    gen = generation()
    control.stop(signal.SIGKILL)
    broken = []
    for _ in range(3):
        broken += await echo_all(everyone)
    control = start_control("control-restarted")
    wait_for(lambda: os.path.exists(f"{work}/admin.sock") and ctl.json("health") is not None, 10)
    broken += await echo_all(everyone)
    results.check(not broken, f"eclb-control SIGKILLed under traffic: all {len(everyone)} connections carried on", broken[:3])
    log = open(control.log_path).read()
    results.check("adopted generation=" in log and generation() >= gen,
                  "the restarted eclb-control adopted the table region", f"generation {gen} -> {generation()}")
    for ws, _ in everyone + fresh:
        await ws.close()
    print(ctl.text("table", "gateways"))


control = start_control("control")
dataplane = Process("dataplane", [f"{args.bin}/dataplane/eclb-dataplane", "-l", "0,1", "--no-pci", "--in-memory",
                                  "--log-level=lib.*:error", "--vdev=net_af_packet0,iface=lbn0", "--",
                                  "--config", f"{work}/base.yaml"], work, netns=args.lb_netns)
crashed = True
try:
    asyncio.run(scenario())
    crashed = False
finally:
    dataplane.stop()
    control.stop()
    for gateway in gateways.values():
        gateway.stop()
    if results.failed or crashed:
        print("--- control log ---\n" + control.tail(25))
        print("--- dataplane log ---\n" + dataplane.tail(15))
    subprocess.run(["rm", "-rf", work, flows_path])
sys.exit(results.finish())
