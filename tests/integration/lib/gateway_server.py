#!/usr/bin/python3
"""A stand-in EC gateway for integration tests: a real TCP server that greets every
connection with its name and the client's address as it sees it ("gw1 10.99.0.10:40001\\n")
and then echoes every byte back. Exits after --lifetime seconds."""
import argparse
import selectors
import socket
import sys
import time

parser = argparse.ArgumentParser()
parser.add_argument("--name", required=True)
parser.add_argument("--port", type=int, default=8080)
parser.add_argument("--bind", default="0.0.0.0")
parser.add_argument("--lifetime", type=float, default=600)
args = parser.parse_args()

selector = selectors.DefaultSelector()
listener = socket.socket(socket.AF_INET6 if ":" in args.bind else socket.AF_INET, socket.SOCK_STREAM)
listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
listener.bind((args.bind, args.port))
listener.listen(4096)
listener.setblocking(False)
selector.register(listener, selectors.EVENT_READ)
print(f"{args.name} listening on {args.bind}:{args.port}", flush=True)

deadline = time.monotonic() + args.lifetime
while time.monotonic() < deadline:
    for key, _ in selector.select(timeout=0.5):
        sock = key.fileobj
        if sock is listener:
            try:
                conn, peer = listener.accept()
            except OSError:
                continue
            conn.setblocking(False)
            try:
                conn.send(f"{args.name} {peer[0]}:{peer[1]}\n".encode())
            except OSError:
                conn.close()
                continue
            selector.register(conn, selectors.EVENT_READ)
            continue
        try:
            data = sock.recv(65536)
        except OSError:
            data = b""
        if not data:
            selector.unregister(sock)
            sock.close()
            continue
        try:
            sock.sendall(data)
        except OSError:
            selector.unregister(sock)
            sock.close()
sys.exit(0)
