#!/usr/bin/python3
"""The demo's client side, run inside the client namespace by demo.sh: opens real TCP
connections to the VIP, shows which gateway answered each (and that `eclbctl which`
predicted it), then removes a gateway through eclb-control (SIGHUP) and shows that only
its connections moved."""
import argparse
import collections
import json
import os
import signal
import socket
import subprocess
import time

parser = argparse.ArgumentParser()
parser.add_argument("--bin", required=True)
parser.add_argument("--work", required=True)
parser.add_argument("--control-pid", type=int, required=True)
args = parser.parse_args()
VIP, PORT = "10.99.0.100", 8080
ctl = [f"{args.bin}/control/cli/eclbctl", "--segment", f"{args.work}/tables", "--stats", f"{args.work}/stats",
       "--flows", f"{args.work}/flows"]


def eclbctl(*words, json_output=False):
    out = subprocess.run(ctl + list(words) + (["--json"] if json_output else []), capture_output=True, text=True)
    return json.loads(out.stdout) if json_output else out.stdout


def connect(port):
    sock = socket.create_connection((VIP, PORT), timeout=3, source_address=("10.99.0.10", port))
    banner = b""
    while not banner.endswith(b"\n"):
        banner += sock.recv(100)
    return sock, banner.decode().split()[0]


def echo_ok(sock):
    try:
        sock.sendall(b"still there?")
        return sock.recv(100) == b"still there?"
    except OSError:
        return False


def step(text):
    print(f"\n\033[1m== {text}\033[0m", flush=True)


step("30 real TCP connections from the client to the VIP 10.99.0.100:8080")
connections = {}
for port in range(43000, 43030):
    sock, gateway = connect(port)
    predicted = eclbctl("which", "watchers", f"10.99.0.10:{port}", json_output=True)["backend"]["name"]
    connections[port] = (sock, gateway)
    print(f"  10.99.0.10:{port} -> {gateway}   (eclbctl which: {predicted}{'' if predicted == gateway else '  MISMATCH'})")
spread = collections.Counter(g for _, g in connections.values())
print(f"  spread: {dict(sorted(spread.items()))}; every reply came straight from the gateway (DSR)")

step("eclbctl table watchers")
print(eclbctl("table", "watchers"), end="")
step("eclbctl flows watchers --limit 5")
print(eclbctl("flows", "watchers", "--limit", "5"), end="")

step("gw2 leaves the pool: edit the config, SIGHUP eclb-control")
config = f"{args.work}/eclb.yaml"
with open(config) as f:
    text = f.read()
with open(config, "w") as f:
    f.write("\n".join(line for line in text.splitlines() if "name: gw2" not in line) + "\n")
os.kill(args.control_pid, signal.SIGHUP)
for _ in range(50):
    if eclbctl("stats", json_output=True)["totals"]["table_generation"] >= 2:
        break
    time.sleep(0.1)
kept = [p for p, (s, g) in connections.items() if g != "gw2" and echo_ok(s)]
lost = [p for p, (s, g) in connections.items() if g == "gw2" and not echo_ok(s)]
print(f"  connections on gw1/gw3 still working: {len(kept)} of {sum(g != 'gw2' for _, g in connections.values())}")
print(f"  connections that were on gw2: {len(lost)} moved and were reset by their new gateway")
fresh = collections.Counter(connect(port)[1] for port in range(44000, 44020))
print(f"  20 new connections: {dict(sorted(fresh.items()))}")

step("eclbctl stats")
print(eclbctl("stats"), end="")
