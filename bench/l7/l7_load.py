#!/usr/bin/python3
"""Client side of the L7 benchmark (bench/l7/l7_bench.sh), run in the client namespace
against one front end (eclb or nginx). Prints one JSON object.
  handshakes: full TLS handshakes per second from `openssl s_time -new`
  echo:       WebSocket echo round trips through the front end (K connections, S bytes)
  idle:       opens N wss:// connections, lets them idle, and reports the front end's
              resident memory per connection (the PIDs given, /proc/PID/status VmRSS)"""
import argparse
import asyncio
import json
import os
import random
import re
import resource
import ssl
import subprocess
import time

import websockets

parser = argparse.ArgumentParser()
parser.add_argument("mode", choices=["handshakes", "echo", "idle"])
parser.add_argument("--address", required=True)
parser.add_argument("--name", required=True)
parser.add_argument("--ca", required=True)
parser.add_argument("--seconds", type=float, default=8)
parser.add_argument("--connections", type=int, default=16)
parser.add_argument("--size", type=int, default=1024)
parser.add_argument("--count", type=int, default=10000)
parser.add_argument("--pids", type=int, nargs="*", default=[])
args = parser.parse_args()
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def context():
    return ssl.create_default_context(cafile=args.ca)


async def connect(path="/agent"):
    ws = await websockets.connect(f"wss://{args.name}{path}", host=args.address, port=443, ssl=context(),
                                  server_hostname=args.name, compression=None, open_timeout=30, ping_interval=None,
                                  max_size=2**24)
    await asyncio.wait_for(ws.recv(), 30)  # the gateway's greeting
    return ws


def cpu_seconds(pids):
    """User + system CPU of the processes (and their threads) so far."""
    total = 0
    for pid in pids:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / os.sysconf("SC_CLK_TCK")


def handshakes():
    # s_time: sequential full handshakes (-new: no session reuse), no request sent. On
    # two cores one client cannot saturate the server, so the server's CPU time per
    # handshake is measured too: handshakes per second of one server core.
    cpu_before = cpu_seconds(args.pids)
    out = subprocess.run(["openssl", "s_time", "-connect", f"{args.address}:443", "-new", "-time", str(int(args.seconds)),
                          "-CAfile", args.ca], capture_output=True, text=True).stdout
    match = re.search(r"(\d+) connections in ([\d.]+)s", out) or re.search(r"(\d+) connections in (\d+) real seconds", out)
    count, seconds = int(match.group(1)), float(match.group(2))
    cpu = cpu_seconds(args.pids) - cpu_before
    return {"handshakes": count, "seconds": seconds, "handshakes_per_second": round(count / seconds, 1),
            "server_cpu_seconds": round(cpu, 2), "handshakes_per_server_cpu_second": round(count / cpu) if cpu else None}


async def echo():
    sockets = [await connect() for _ in range(args.connections)]
    payload = random.randbytes(args.size)
    deadline = time.monotonic() + args.seconds
    counts = [0] * len(sockets)

    async def run(i, ws):
        while time.monotonic() < deadline:
            await ws.send(payload)
            await ws.recv()
            counts[i] += 1

    started = time.monotonic()
    await asyncio.gather(*(run(i, ws) for i, ws in enumerate(sockets)))
    elapsed = time.monotonic() - started
    for ws in sockets:
        await ws.close()
    total = sum(counts)
    return {"connections": args.connections, "message_bytes": args.size, "round_trips_per_second": round(total / elapsed),
            "megabytes_per_second_each_way": round(total * args.size / elapsed / 1e6, 2)}


def rss_kib(pids):
    total = 0
    for pid in pids:
        with open(f"/proc/{pid}/status") as f:
            total += int(re.search(r"VmRSS:\s+(\d+)", f.read()).group(1))
    return total


async def idle():
    before = rss_kib(args.pids)
    gate = asyncio.Semaphore(64)
    opened = []

    async def one():
        async with gate:
            opened.append(await connect())

    started = time.monotonic()
    await asyncio.gather(*(one() for _ in range(args.count)))
    opening = time.monotonic() - started
    await asyncio.sleep(3)  # idle: let buffers be released
    during = rss_kib(args.pids)
    for ws in opened:
        ws.transport.abort()
    await asyncio.sleep(2)
    after = rss_kib(args.pids)
    return {"connections": len(opened), "open_seconds": round(opening, 1), "rss_kib_before": before,
            "rss_kib_idle": during, "rss_kib_after_close": after,
            "bytes_per_idle_connection": round((during - before) * 1024 / len(opened))}


if args.mode == "handshakes":
    result = handshakes()
else:
    result = asyncio.run(echo() if args.mode == "echo" else idle())
print(json.dumps(result))
