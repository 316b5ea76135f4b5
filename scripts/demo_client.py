#!/usr/bin/python3
"""The demo's client side, run inside the client namespace by demo.sh: real WebSocket
clients through the VIP, then a gateway dies and comes back, printing what eclb did."""
import argparse
import asyncio
import collections
import json
import os
import subprocess
import time

import websockets

parser = argparse.ArgumentParser()
parser.add_argument("--bin", required=True)
parser.add_argument("--work", required=True)
parser.add_argument("--gw2-netns", required=True)
args = parser.parse_args()
VIP = "10.99.0.100"
ctl = [f"{args.bin}/control/cli/eclbctl", "--segment", f"{args.work}/tables", "--stats", f"{args.work}/stats",
       "--flows", f"{args.work}/flows", "--admin", f"{args.work}/admin.sock"]


def eclbctl(*words, json_output=False):
    out = subprocess.run(ctl + list(words) + (["--json"] if json_output else []), capture_output=True, text=True)
    return json.loads(out.stdout) if json_output else out.stdout


def step(text):
    print(f"\n\033[1m== {text}\033[0m", flush=True)


def state(name):
    for backend in eclbctl("backends", "gateways", json_output=True)["backends"]:
        if backend["name"] == name:
            return backend["state"]
    return None


def control_log_since(offset):
    with open(f"{args.work}/control.log") as f:
        f.seek(offset)
        return [line.rstrip() for line in f if " health: " in line or " publish: " in line]


async def connect(count):
    clients = []
    for _ in range(count):
        ws = await websockets.connect(f"ws://{VIP}/agent", open_timeout=3, ping_interval=None)
        clients.append((ws, (await ws.recv()).split()))
    return clients


async def main():
    step("30 WebSocket clients (python websockets) to ws://10.99.0.100/agent")
    clients = await connect(30)
    for ws, (gateway, seen_as) in clients[:6]:
        print(f"  {ws.local_address[0]}:{ws.local_address[1]} -> {gateway} (the gateway sees {seen_as}: eclb's address)")
    print(f"  ... spread: {dict(sorted(collections.Counter(g for _, (g, _) in clients).items()))}")
    for ws, (gateway, _) in clients:
        await ws.send("ping")
        assert await ws.recv() == "ping"
    print("  every client's message echoed")

    step("eclbctl health")
    print(eclbctl("health"), end="")

    step("vm2 dies (its WebSocket server is killed)")
    offset = os.path.getsize(f"{args.work}/control.log")
    pid = subprocess.run(["ip", "netns", "pids", args.gw2_netns], capture_output=True, text=True).stdout.split()
    subprocess.run(["kill", "-9", *pid])
    start = time.monotonic()
    while state("vm2") != "down" and time.monotonic() - start < 10:
        await asyncio.sleep(0.05)
    print(f"  vm2 left the table after {time.monotonic() - start:.2f} s (fall 2 x interval 500 ms); eclb-control logged:")
    for line in control_log_since(offset):
        print("   ", line[25:])
    alive = 0
    for ws, (gateway, _) in clients:
        if gateway == "vm2":
            continue
        await ws.send("still there?")
        alive += await ws.recv() == "still there?"
    print(f"  connections on vm1/vm3 still working: {alive}")
    fresh = await connect(20)
    print(f"  20 new clients: {dict(sorted(collections.Counter(g for _, (g, _) in fresh).items()))}")

    step("eclbctl table gateways")
    print(eclbctl("table", "gateways"), end="")
    step("eclbctl stats")
    print(eclbctl("stats"), end="")
    for ws, _ in clients + fresh:
        await ws.close()


asyncio.run(main())
