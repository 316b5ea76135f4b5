#!/usr/bin/python3
"""The demo's TLS part, run in the client namespace by demo.sh: eclb-control started
with the nginx image's environment.env and its cert.crt / certkey.key serves wss:// on
443 and the redirect on 80, as the image did. Real clients: Python websockets and curl."""
import argparse
import asyncio
import collections
import json
import ssl
import subprocess
import urllib.request

import websockets

parser = argparse.ArgumentParser()
parser.add_argument("--bin", required=True)
parser.add_argument("--work", required=True)
args = parser.parse_args()
VIP, NAME = "10.99.0.100", "watchers.demo.test"
CA = f"{args.work}/cert.crt"


def step(text):
    print(f"\n\033[1m== {text}\033[0m", flush=True)


def curl(*extra, url):
    out = subprocess.run(["curl", "-sS", "-m", "5", "--cacert", CA, "--resolve", f"{NAME}:443:{VIP}",
                          "--resolve", f"{NAME}:80:{VIP}", *extra, url], capture_output=True, text=True)
    return out.stdout.strip() or out.stderr.strip()


async def connect(path="/agent", headers=None):
    ws = await websockets.connect(f"wss://{NAME}{path}", host=VIP, port=443, ssl=ssl.create_default_context(cafile=CA),
                                  server_hostname=NAME, extra_headers=headers or {}, open_timeout=5, ping_interval=None)
    return ws, (await asyncio.wait_for(ws.recv(), 5)).split()[0]


async def main():
    step("12 agents connect to wss://watchers.demo.test/agent (TLS ends at eclb, Maglev picks the gateway)")
    sockets, spread = [], collections.Counter()
    for _ in range(12):
        ws, gateway = await connect()
        sockets.append(ws)
        spread[gateway] += 1
    for gateway in sorted(spread):
        print(f"  {gateway}: {spread[gateway]:2d} {'#' * spread[gateway]}")
    await sockets[0].send("?request")
    request = json.loads(await sockets[0].recv())
    print("  what a gateway receives:", {k: v for k, v in request["headers"].items()
                                        if k in ("host", "x-forwarded-for", "x-real-ip", "x-forwarded-proto")})

    step("server agents pin a gateway: X-Server-Select: vm2, or the path /vm3/agent")
    ws, gateway = await connect(headers={"X-Server-Select": "vm2"})
    print(f"  X-Server-Select: vm2  -> {gateway}")
    await ws.close()
    ws, gateway = await connect("/vm3/agent")
    print(f"  wss://{NAME}/vm3/agent -> {gateway}")
    await ws.close()
    print(f"  X-Server-Select: vm9  -> {curl('-H', 'X-Server-Select: vm9', url=f'https://{NAME}/agent')}")

    step("plain HTTP on port 80 is redirected, as the image did")
    head = curl("-o", "/dev/null", "-w", "%{http_code} %{redirect_url}", url=f"http://{NAME}/vm1/agent")
    print(f"  http://{NAME}/vm1/agent -> {head}")

    step("eclb-control's L7 counters (Prometheus, eclb_l7_*)")
    with urllib.request.urlopen(f"http://{VIP}:9469/metrics", timeout=3) as response:
        for line in response.read().decode().splitlines():
            if line.startswith("eclb_l7_") and not line.endswith(" 0"):
                print("  " + line)
    for ws in sockets:
        await ws.close()


asyncio.run(main())
