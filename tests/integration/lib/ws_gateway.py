#!/usr/bin/python3
"""A stand-in EC gateway ("watcher") speaking WebSocket, as the real ones do: any path
(health checks use /agent) upgrades; the server greets each connection with
"<name> <client address:port>" and echoes every message. Exits after --lifetime s."""
import argparse
import asyncio

import websockets

parser = argparse.ArgumentParser()
parser.add_argument("--name", required=True)
parser.add_argument("--port", type=int, default=8080)
parser.add_argument("--bind", default="0.0.0.0")
parser.add_argument("--lifetime", type=float, default=600)
args = parser.parse_args()


async def handler(websocket, path=None):
    peer = websocket.remote_address
    await websocket.send(f"{args.name} {peer[0]}:{peer[1]}")
    async for message in websocket:
        await websocket.send(message)


async def main():
    async with websockets.serve(handler, args.bind, args.port, ping_interval=None):
        print(f"{args.name} serving WebSocket on {args.bind}:{args.port}", flush=True)
        await asyncio.sleep(args.lifetime)


asyncio.run(main())
