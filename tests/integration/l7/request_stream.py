#!/usr/bin/python3
"""A stream of new HTTPS requests through a front end while one gateway dies: each
request on a connection of its own (as agents reconnecting), unpinned, one after the
other; after --kill-after of them the gateway process --kill-pid is SIGKILLed. Prints
{"sent", "failed": [[index, what]], "gateways": {name: count}} as JSON. Bounded: at most
--requests requests, each with a 5 s timeout."""
import argparse
import json
import os
import signal
import socket
import ssl
import time

parser = argparse.ArgumentParser()
parser.add_argument("address")
parser.add_argument("--name", required=True, help="DNS_NAME")
parser.add_argument("--ca", required=True)
parser.add_argument("--requests", type=int, default=60)
parser.add_argument("--kill-after", type=int, required=True)
parser.add_argument("--kill-pid", type=int, required=True)
parser.add_argument("--interval", type=float, default=0.02)
args = parser.parse_args()

context = ssl.create_default_context(cafile=args.ca)


def request(index):
    """One GET on a new TLS connection (SNI and Host: the DNS name): (status, body)."""
    with socket.create_connection((args.address, 443), timeout=5) as plain:
        with context.wrap_socket(plain, server_hostname=args.name) as tls:
            tls.sendall(f"GET /status?n={index} HTTP/1.1\r\nHost: {args.name}\r\nConnection: close\r\n\r\n".encode())
            data = b""
            while chunk := tls.recv(65536):
                data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), body


failed, gateways = [], {}
for index in range(args.requests):
    if index == args.kill_after:
        os.kill(args.kill_pid, signal.SIGKILL)
    try:
        status, body = request(index)
        if status != 200:
            failed.append([index, status])
        else:
            name = json.loads(body)["gateway"]
            gateways[name] = gateways.get(name, 0) + 1
    except (OSError, ValueError, IndexError) as error:
        failed.append([index, type(error).__name__])
    time.sleep(args.interval)
print(json.dumps({"sent": args.requests, "failed": failed, "gateways": dict(sorted(gateways.items()))}))
