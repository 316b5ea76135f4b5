#!/usr/bin/python3
"""What an EC agent and an operator see of a gateway front end, as JSON: the same script
runs against the nginx image and against eclb (nginx_parity_test.sh), and the two
outputs must be equal. Real clients: curl, openssl s_client, Python websockets."""
import argparse
import asyncio
import json
import random
import ssl
import subprocess

import websockets

parser = argparse.ArgumentParser()
parser.add_argument("address", help="the front end's address (DNS_NAME resolves to it)")
parser.add_argument("--name", required=True, help="DNS_NAME")
parser.add_argument("--ca", required=True)
parser.add_argument("--client", required=True, help="this client's address, as gateways should see it")
args = parser.parse_args()


def curl(*extra, url):
    out = subprocess.run(["curl", "-sS", "-m", "5", "--cacert", args.ca, "--resolve", f"{args.name}:443:{args.address}",
                          "--resolve", f"{args.name}:80:{args.address}", "-o", "-", "-w", "\n%{http_code} %{redirect_url}",
                          *extra, url], capture_output=True, text=True)
    body, _, tail = out.stdout.rpartition("\n")
    code, _, location = tail.partition(" ")
    return int(code or 0), body, location


def gateway_of(body):
    try:
        return json.loads(body)["gateway"]
    except (ValueError, KeyError):
        return None


def error_class(code):
    return f"{code // 100}xx" if code >= 500 else code


async def websocket(path, headers=None):
    context = ssl.create_default_context(cafile=args.ca)
    async with websockets.connect(f"wss://{args.name}{path}", host=args.address, port=443, ssl=context,
                                  server_hostname=args.name, extra_headers=headers or {}, compression=None,
                                  open_timeout=5, ping_interval=None) as ws:
        gateway = (await asyncio.wait_for(ws.recv(), 5)).split()[0]
        data = random.randbytes(50_000)
        await ws.send(data)
        echoed = await asyncio.wait_for(ws.recv(), 5) == data
        await ws.send("?request")
        request = json.loads(await asyncio.wait_for(ws.recv(), 5))
        return gateway, echoed, request


async def main():
    seen = {}
    gateway, echoed, request = await websocket("/agent")
    headers = request["headers"]
    seen["wss_echo"] = echoed
    seen["wss_forwarded"] = {
        "x-forwarded-for": headers.get("x-forwarded-for") == args.client,
        "x-real-ip": headers.get("x-real-ip") == args.client,
        "x-forwarded-proto": headers.get("x-forwarded-proto"),
        "host": headers.get("host"),
        "upgrade": headers.get("upgrade"),
        "connection": headers.get("connection", "").lower(),
    }
    spread = set()
    for _ in range(24):
        spread.add((await websocket("/agent"))[0])
    seen["spread"] = sorted(spread)
    seen["wss_pin_header"] = {n: (await websocket("/agent", {"X-Server-Select": n}))[0] for n in ("vm1", "vm2", "vm3")}
    seen["wss_pin_path"] = {}
    for n in ("vm1", "vm2", "vm3"):
        gateway, _, request = await websocket(f"/{n}/agent")
        seen["wss_pin_path"][n] = [gateway, request["path"]]
    code, body, _ = curl("-H", "X-Server-Select: vm2", url=f"https://{args.name}/status")
    seen["https_pin_header"] = [code, gateway_of(body), json.loads(body)["path"] if code == 200 else None]
    code, body, _ = curl(url=f"https://{args.name}/vm3/status?x=1")
    seen["https_pin_path"] = [code, gateway_of(body), json.loads(body)["path"] if code == 200 else None]
    code, body, _ = curl("-H", "X-Server-Select: vm9", url=f"https://{args.name}/agent")
    seen["pin_unknown"] = error_class(code)
    code, _, location = curl(url=f"http://{args.name}/vm1/agent?id=3")
    seen["redirect"] = [code, location]
    code, _, _ = curl(url=f"http://{args.name}:443/")
    seen["plain_http_on_443"] = code
    tls11 = subprocess.run(["openssl", "s_client", "-connect", f"{args.address}:443", "-servername", args.name, "-tls1_1"],
                           input="", capture_output=True, text=True, timeout=10)
    seen["tls1_1_refused"] = tls11.returncode != 0
    tls13 = subprocess.run(["openssl", "s_client", "-connect", f"{args.address}:443", "-servername", args.name, "-tls1_3",
                            "-CAfile", args.ca, "-verify_return_error", "-brief"],
                           input="", capture_output=True, text=True, timeout=10)
    seen["tls1_3_verified"] = tls13.returncode == 0 and "Verification: OK" in tls13.stderr
    print(json.dumps(seen, sort_keys=True))


asyncio.run(main())
