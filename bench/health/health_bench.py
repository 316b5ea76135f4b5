#!/usr/bin/python3
"""Health-check load: eclb-control probing N backends (default 5000) every second, for
each check kind, against a loopback server that answers every address of 127.1.0.0/16 on
one port. Reports eclb-control's CPU (user + system, from /proc) and the check rate, and
that no healthy backend was marked down. Loopback only.

Usage: health_bench.py BUILD_DIR [--backends N] [--seconds S] [--out DIR]"""
import argparse
import asyncio
import base64
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import threading
import time

parser = argparse.ArgumentParser()
parser.add_argument("build")
parser.add_argument("--backends", type=int, default=5000)
parser.add_argument("--seconds", type=float, default=20)
parser.add_argument("--out", default="/tmp/eclb-results")
args = parser.parse_args()
BUILD = os.path.abspath(args.build)
PORT = 18080
GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


class Answer(asyncio.Protocol):
    """Answers one HTTP request (plain GET or WebSocket upgrade), or nothing for TCP checks."""

    def connection_made(self, transport):
        self.transport, self.buffer = transport, b""

    def data_received(self, data):
        self.buffer += data
        if b"\r\n\r\n" not in self.buffer:
            return
        key = None
        for line in self.buffer.split(b"\r\n"):
            if line.lower().startswith(b"sec-websocket-key:"):
                key = line.split(b":", 1)[1].strip().decode()
        if key:
            accept = base64.b64encode(hashlib.sha1((key + GUID).encode()).digest()).decode()
            self.transport.write(f"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                                 f"Sec-WebSocket-Accept: {accept}\r\n\r\n".encode())
        else:
            self.transport.write(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        self.transport.close()


def serve(ready):
    loop = asyncio.new_event_loop()
    server = loop.run_until_complete(loop.create_server(Answer, "0.0.0.0", PORT, backlog=8192, reuse_address=True))
    ready.set()
    loop.run_forever()


def cpu_seconds(pid):
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run(kind, work):
    backends = "\n".join(f"      - {{ name: b{i}, address: 127.1.{i // 250}.{i % 250 + 1}, port: {PORT} }}"
                         for i in range(args.backends))
    with open(f"{work}/eclb.yaml", "w") as f:
        f.write(f"""tables: {{ segment: {work}/tables, max_backends: {args.backends + 16} }}
control: {{ admin_socket: {work}/admin.sock, metrics: "off" }}
pools:
  many:
    health: {{ check: {kind}, path: /agent, interval_ms: 1000, timeout_ms: 900, rise: 2, fall: 3 }}
    backends:
{backends}
vips:
  - {{ name: many, address: 10.0.0.100, port: 80, pool: many }}
""")
    control = subprocess.Popen([f"{BUILD}/control/daemon/eclb-control", "--config", f"{work}/eclb.yaml"],
                               stdout=subprocess.DEVNULL, stderr=open(f"{work}/{kind}.log", "w"))
    ctl = [f"{BUILD}/control/cli/eclbctl", "--segment", f"{work}/tables", "--admin", f"{work}/admin.sock"]
    time.sleep(3)  # first checks spread over one interval
    status = lambda: json.loads(subprocess.run(ctl + ["health", "--json"], capture_output=True, text=True).stdout)
    cpu0, t0 = cpu_seconds(control.pid), time.monotonic()
    checks0 = sum(b["checks"] for b in status())
    time.sleep(args.seconds)
    cpu1, t1 = cpu_seconds(control.pid), time.monotonic()
    health = status()
    checks1 = sum(b["checks"] for b in health)
    control.terminate()
    control.wait(timeout=10)
    down = sum(1 for b in health if b["health"] != "up")
    latencies = sorted(b["last_latency_ms"] for b in health)
    return {"kind": kind, "backends": args.backends, "interval_ms": 1000,
            "cpu_percent_of_one_core": round(100 * (cpu1 - cpu0) / (t1 - t0), 1),
            "checks_per_second": round((checks1 - checks0) / (t1 - t0)),
            "backends_down": down, "median_latency_ms": latencies[len(latencies) // 2],
            "p99_latency_ms": latencies[int(len(latencies) * 0.99)]}


def main():
    ready = threading.Event()
    threading.Thread(target=serve, args=(ready,), daemon=True).start()
    ready.wait()
    os.makedirs(args.out, exist_ok=True)
    work = tempfile.mkdtemp(prefix="eclb-health-bench-", dir="/dev/shm")
    results = [run(kind, work) for kind in ("tcp", "http", "websocket")]
    subprocess.run(["rm", "-rf", work])
    path = os.path.join(args.out, f"health-{time.strftime('%Y%m%d-%H%M%S')}.json")
    with open(path, "w") as f:
        json.dump(results, f, indent=2)
    for r in results:
        print(f"{r['kind']:>9}: {r['backends']} backends every {r['interval_ms']} ms: {r['checks_per_second']} checks/s, "
              f"eclb-control CPU {r['cpu_percent_of_one_core']}% of one core, {r['backends_down']} wrongly down, "
              f"latency median {r['median_latency_ms']:.2f} ms p99 {r['p99_latency_ms']:.2f} ms")
    print(f"wrote {path}")


if __name__ == "__main__":
    sys.exit(main())
