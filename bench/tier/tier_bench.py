#!/usr/bin/python3
"""New DSR connections per second through 1, 2 and 3 announcing eclb hosts (run by
tier_bench.sh in the client namespace): for each count the other hosts withdraw
(`eclbctl withdraw --all`), the router is left with that many next hops, and a bounded
storm of connections (64 at a time; connect, read the gateway's greeting, reset) runs
for --seconds. The CPU time every part of the lab used meanwhile (/proc/PID/stat) says
what limited the figure: the machine has two cores for the client, the router, the
gateways and every host, so expect a flat line."""
import argparse
import asyncio
import json
import os
import socket
import struct
import subprocess
import sys
import time

TIER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "integration", "tier")
sys.path.insert(0, TIER)
import tier_lab  # noqa: E402
from tier_lab import PORT, VIP, Host, addresses, router_next_hops  # noqa: E402

parser = argparse.ArgumentParser()
parser.add_argument("--bin", required=True)
parser.add_argument("--prefix", required=True)
parser.add_argument("--seconds", type=float, default=8)
parser.add_argument("--concurrency", type=int, default=64)
parser.add_argument("--out", required=True)
args = parser.parse_args()
tier_lab.configure(args.bin, args.prefix, 3)
TICKS = os.sysconf("SC_CLK_TCK")
LINGER_RESET = struct.pack("ii", 1, 0)


def cpu_seconds(pids):
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime
        except (OSError, IndexError, ValueError):
            pass
    return total / TICKS


async def storm(seconds, concurrency):
    """Connections opened and greeted within `seconds`; failures counted apart."""
    done = failed = 0
    deadline = time.monotonic() + seconds

    async def worker():
        nonlocal done, failed
        while time.monotonic() < deadline:
            try:
                reader, writer = await asyncio.wait_for(asyncio.open_connection(VIP, PORT), 3)
                await asyncio.wait_for(reader.readline(), 3)
                # Closed with a reset, so the client keeps no TIME_WAIT: tens of thousands of
                # them make every connect() search the port range (the client's CPU, not eclb).
                writer.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, LINGER_RESET)
                writer.close()
                done += 1
            except (OSError, asyncio.TimeoutError):
                failed += 1

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return done, failed


def main():
    hosts = [Host(n) for n in (1, 2, 3)]
    tier_lab.start_router()
    tier_lab.start_gateways(lifetime=600)
    for host in hosts:
        host.start_bird()
        host.start_control()
        host.start_dataplane()
    deadline = time.monotonic() + 60
    while router_next_hops() != addresses(hosts) and time.monotonic() < deadline:
        time.sleep(0.2)
    if router_next_hops() != addresses(hosts):
        raise SystemExit(f"the tier did not come up: {router_next_hops()}")
    parts = {
        "client": [os.getpid()],
        "gateways": [p.popen.pid for p in tier_lab.processes if p.name.startswith("gw")],
        "dataplanes": [h.dataplane.popen.pid for h in hosts],
        "eclb-control": [h.control.popen.pid for h in hosts],
        "bird": [h.bird.popen.pid for h in hosts] + [p.popen.pid for p in tier_lab.processes if p.name == "router-bird"],
    }
    rows = []
    for count in (1, 2, 3):
        for host in hosts:
            verb = "announce" if host.n <= count else "withdraw"
            subprocess.run(host.ctl.base + [verb, "--all"], capture_output=True, check=True)
        wanted = addresses(hosts[:count])
        deadline = time.monotonic() + 20
        while router_next_hops() != wanted and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(1)
        before = {name: cpu_seconds(pids) for name, pids in parts.items()}
        wall = time.monotonic()
        done, failed = asyncio.run(storm(args.seconds, args.concurrency))
        wall = time.monotonic() - wall
        cpu = {name: round(cpu_seconds(pids) - before[name], 2) for name, pids in parts.items()}
        rows.append({"hosts": count, "next_hops": router_next_hops(), "connections_per_s": round(done / wall),
                     "failed": failed, "seconds": round(wall, 1), "cpu_seconds": cpu})
        print(f"{count} host(s): {done / wall:8.0f} new connections/s ({failed} failed)  CPU s over {wall:.1f} s: "
              + ", ".join(f"{name} {seconds}" for name, seconds in cpu.items()), flush=True)
    busiest = max(rows[-1]["cpu_seconds"].items(), key=lambda item: item[1])
    verdict = (f"limited by {busiest[0]} ({busiest[1]} CPU s of {rows[-1]['seconds']} s on a 2-core machine); "
               "every part shares the same two cores, so more hosts add no capacity here")
    print(verdict)
    with open(args.out, "w") as f:
        json.dump({"rows": rows, "limit": verdict}, f, indent=2)


try:
    main()
finally:
    tier_lab.clean_up()
