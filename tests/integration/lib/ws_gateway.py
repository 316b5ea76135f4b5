#!/usr/bin/python3
"""A stand-in EC gateway ("watcher") speaking WebSocket, as the real ones do: any path
(health checks use /agent) upgrades; the server greets each connection with
"<name> <client address:port>" and echoes every message, except "?request", which it
answers with the upgrade request (path and headers) as JSON, so tests can see what a
proxy forwarded. A plain HTTP request (no upgrade) gets that JSON as a 200 response.
Exits after --lifetime s."""
import argparse
import asyncio
import http
import json

import websockets

parser = argparse.ArgumentParser()
parser.add_argument("--name", required=True)
parser.add_argument("--port", type=int, default=8080)
parser.add_argument("--bind", default="0.0.0.0")
parser.add_argument("--lifetime", type=float, default=600)
args = parser.parse_args()


def describe(path, headers):
    return json.dumps({"gateway": args.name, "path": path,
                       "headers": {name.lower(): value for name, value in headers.raw_items()}})


async def plain_http(path, headers):
    if headers.get("Upgrade", "").lower() == "websocket":
        return None  # go on with the handshake
    body = (describe(path, headers) + "\n").encode()
    return http.HTTPStatus.OK, [("Content-Type", "application/json")], body


async def handler(websocket, path=None):
    peer = websocket.remote_address
    await websocket.send(f"{args.name} {peer[0]}:{peer[1]}")
    async for message in websocket:
        if message == "?request":
            await websocket.send(describe(websocket.path, websocket.request_headers))
        else:
            await websocket.send(message)


async def main():
    async with websockets.serve(handler, args.bind, args.port, ping_interval=None,
                                process_request=plain_http):
        print(f"{args.name} serving WebSocket on {args.bind}:{args.port}", flush=True)
        await asyncio.sleep(args.lifetime)


asyncio.run(main())
