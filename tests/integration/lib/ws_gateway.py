#!/usr/bin/python3
"""A stand-in EC gateway ("watcher") for the integration tests, with an HTTP layer of its
own so that tests can see exactly what a proxy forwards:
  - a WebSocket upgrade on any path is accepted (health checks use /agent); the server
    greets the connection with "<name> <client address:port>" and echoes every message,
    except "?request", answered with the upgrade request (path and headers) as JSON;
  - a plain request gets that JSON as a 200 response, and the connection stays open for
    the next request (HTTP/1.1 keep-alive), as real servers do;
  - a request for /refuse, upgrade or not, gets 426 and the connection stays open: a
    proxy that relays the client's bytes after a refused upgrade would let the client
    send this gateway requests of its own (request smuggling);
  - a request for /truncate gets the first line of a 101 response and then the
    connection is closed: a proxy must answer 502, not forward half a response;
  - with --drop-path P, a request for a path under P is read and the connection reset
    without an answer (a gateway dying with the request): health checks still pass.
Every request is logged on stdout as one JSON line, with its number on its connection.
Exits after --lifetime s."""
import argparse
import asyncio
import base64
import hashlib
import json
import socket
import struct

parser = argparse.ArgumentParser()
parser.add_argument("--name", required=True)
parser.add_argument("--port", type=int, default=8080)
parser.add_argument("--bind", default="0.0.0.0")
parser.add_argument("--lifetime", type=float, default=600)
parser.add_argument("--drop-path", help="reset connections that request a path under this, unanswered")
args = parser.parse_args()
GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def describe(path, headers, index=1):
    return json.dumps({"gateway": args.name, "path": path, "request_on_connection": index,
                       "headers": {name.lower(): value for name, value in headers}})


async def read_head(reader):
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    method, path, _ = lines[0].split(" ", 2)
    headers = []
    for line in lines[1:]:
        if line:
            name, _, value = line.partition(":")
            headers.append((name.strip(), value.strip()))
    return method, path, headers


def header(headers, name):
    for key, value in headers:
        if key.lower() == name:
            return value
    return ""


async def read_frame(reader):
    first, second = await reader.readexactly(2)
    opcode, length = first & 0x0F, second & 0x7F
    if length == 126:
        length = struct.unpack(">H", await reader.readexactly(2))[0]
    elif length == 127:
        length = struct.unpack(">Q", await reader.readexactly(8))[0]
    mask = await reader.readexactly(4) if second & 0x80 else b"\0\0\0\0"
    data = bytearray(await reader.readexactly(length))
    for i in range(len(data)):
        data[i] ^= mask[i % 4]
    return opcode, bytes(data)


def frame(opcode, data):
    length = len(data)
    if length < 126:
        head = struct.pack(">BB", 0x80 | opcode, length)
    elif length < 65536:
        head = struct.pack(">BBH", 0x80 | opcode, 126, length)
    else:
        head = struct.pack(">BBQ", 0x80 | opcode, 127, length)
    return head + data


async def websocket(reader, writer, path, headers):
    accept = base64.b64encode(hashlib.sha1((header(headers, "sec-websocket-key") + GUID).encode()).digest()).decode()
    writer.write(("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                  f"Sec-WebSocket-Accept: {accept}\r\n\r\n").encode())
    peer = writer.get_extra_info("peername")
    writer.write(frame(1, f"{args.name} {peer[0]}:{peer[1]}".encode()))
    await writer.drain()
    while True:
        opcode, data = await read_frame(reader)
        if opcode == 8:  # close: answer and end
            writer.write(frame(8, data[:2]))
            await writer.drain()
            return
        if opcode == 9:  # ping
            writer.write(frame(10, data))
        elif opcode == 1 and data == b"?request":
            writer.write(frame(1, describe(path, headers).encode()))
        elif opcode in (1, 2):
            writer.write(frame(opcode, data))
        await writer.drain()


async def serve(reader, writer):
    index = 0
    try:
        while True:
            method, path, headers = await read_head(reader)
            index += 1
            print(json.dumps({"request": describe(path, headers, index)}), flush=True)
            length = int(header(headers, "content-length") or 0)
            if length:
                await reader.readexactly(length)
            if args.drop_path and path.startswith(args.drop_path):
                sock = writer.get_extra_info("socket")
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # close = RST
                return
            if path.startswith("/truncate"):
                writer.write(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n")
                await writer.drain()
                return
            if path.startswith("/refuse"):
                body = (describe(path, headers, index) + "\n").encode()
                writer.write(b"HTTP/1.1 426 Upgrade Required\r\nContent-Type: application/json\r\n"
                             b"Connection: keep-alive\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
                await writer.drain()
                continue
            if header(headers, "upgrade").lower() == "websocket":
                await websocket(reader, writer, path, headers)
                return
            body = (describe(path, headers, index) + "\n").encode()
            close = header(headers, "connection").lower() == "close"
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n%s\r\n%s" %
                         (len(body), b"Connection: close\r\n" if close else b"", b"" if method == "HEAD" else body))
            await writer.drain()
            if close:
                return
    except (asyncio.IncompleteReadError, ConnectionError, ValueError):
        pass
    finally:
        writer.close()


async def main():
    server = await asyncio.start_server(serve, args.bind, args.port, limit=1 << 20)
    print(f"{args.name} serving WebSocket on {args.bind}:{args.port}", flush=True)
    async with server:
        await asyncio.sleep(args.lifetime)


asyncio.run(main())
