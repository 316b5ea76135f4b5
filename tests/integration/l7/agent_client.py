#!/usr/bin/python3
"""What an EC agent and an operator see of a gateway front end, as one JSON object of
rows: the same script runs against the nginx image and against eclb
(nginx_parity_test.sh), which compares every row. Real clients: curl, openssl s_client,
Python websockets, and raw requests over TLS for what those clients would never send
(hostile and odd heads: smuggling, bad header names, bare LF line ends)."""
import argparse
import asyncio
import json
import random
import socket
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


def parse_responses(data):
    """The HTTP/1.1 responses in `data`, in order: [status, body, headers]."""
    responses = []
    while data:
        head, separator, rest = data.partition(b"\r\n\r\n")
        if not separator:
            responses.append([f"incomplete: {head[:40]!r}", "", {}])
            break
        lines = head.decode("latin-1").split("\r\n")
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length", len(rest)))
        responses.append([int(lines[0].split()[1]), rest[:length].decode("latin-1"), headers])
        data = rest[length:]
    return responses


def raw_bytes(request, quiet=1.5):
    """Sends `request` (str) over one TLS connection to 443; what comes back until the
    front end closes the connection or stays quiet for `quiet` s."""
    context = ssl.create_default_context(cafile=args.ca)
    data = b""
    with socket.create_connection((args.address, 443), timeout=5) as plain:
        with context.wrap_socket(plain, server_hostname=args.name) as tls:
            tls.sendall(request.encode("latin-1"))
            tls.settimeout(quiet)
            try:
                while chunk := tls.recv(65536):
                    data += chunk
            except (TimeoutError, socket.timeout, ssl.SSLError, ConnectionError):
                pass
    return data


def raw(request, quiet=1.5):
    """One row per response to `request`: [status, gateway, path the gateway got, whether
    X-Real-IP was the client, header names with "_" the gateway got] for gateway
    answers, [status, Location] for redirects, [status] otherwise."""
    rows = []
    for status, body, headers in parse_responses(raw_bytes(request, quiet)):
        try:
            seen = json.loads(body)
            rows.append([status, seen["gateway"], seen["path"], seen["headers"].get("x-real-ip") == args.client,
                         sorted(name for name in seen["headers"] if "_" in name)])
        except (ValueError, KeyError, TypeError):
            rows.append([status, headers["location"]] if "location" in headers else [status])
    return rows


def get(target, *headers, close=True):
    """A GET over TLS as a raw head: exactly these bytes reach the front end."""
    lines = [f"GET {target} HTTP/1.1", f"Host: {args.name}", *headers] + (["Connection: close"] if close else [])
    return "\r\n".join(lines) + "\r\n\r\n"


UPGRADE = ["Upgrade: websocket", "Connection: Upgrade", "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
           "Sec-WebSocket-Version: 13"]


def unpinned(rows):
    """Rows of unpinned requests without the gateway's name (nginx takes turns, eclb
    hashes: which gateway answers is not part of the comparison)."""
    return [row[:1] + row[2:] if len(row) > 2 else row for row in rows]


def hostile_and_odd_requests(seen):
    # A refused upgrade (426, connection kept) followed by a request that tries to pass
    # as the client's own: it must be parsed and given forwarding headers by the front
    # end, never relayed raw to the gateway.
    smuggled = get("/smuggled", "X-Real-IP: 6.6.6.6")
    seen["smuggle_after_refused_upgrade"] = unpinned(raw(get("/refuse", *UPGRADE, close=False) + smuggled))
    # The gateway closes half way through its 101: the client gets a 502, not half a head.
    seen["truncated_101"] = unpinned(raw(get("/truncate", *UPGRADE, close=False), quiet=1))
    seen["space_before_colon"] = raw(get("/vm1/x", "X-Real-IP : 6.6.6.6"))
    seen["underscore_header_dropped"] = raw(get("/vm1/x", "X_Real_IP: 6.6.6.6"))
    seen["bare_lf_head"] = raw(f"GET /vm1/lf HTTP/1.1\nHost: {args.name}\nConnection: close\n\n")
    seen["bare_lf_then_crlf"] = raw(f"GET /vm1/a HTTP/1.1\nHost: {args.name}\n\n" + get("/vm2/b"))
    seen["keep_alive_pipelined"] = raw(get("/vm3/one", close=False) + get("/vm1/two", close=False) + get("/vm2/three"))
    seen["upgrade_h2c"] = [row[:2] + [row[2].get("upgrade") if isinstance(row[2], dict) else None]
                           for row in raw_headers(get("/vm1/h", "Upgrade: h2c", "Connection: Upgrade"))]


def raw_headers(request):
    """[status, gateway, the headers the gateway got] of each response."""
    rows = []
    for status, body, _ in parse_responses(raw_bytes(request)):
        try:
            seen = json.loads(body)
            rows.append([status, seen["gateway"], seen["headers"]])
        except (ValueError, KeyError):
            rows.append([status, None, None])
    return rows


def routing_as_the_image(seen):
    # Header pins: blanks around the value and the case of the name do not matter.
    seen["pin_header_trailing_space"] = raw(get("/x", "X-Server-Select: vm2 "))
    seen["pin_header_upper_case"] = raw(get("/x", "X-Server-Select: VM2"))
    # The path pin first; the header then does not matter, even when unknown.
    seen["pin_path_beats_header"] = raw(get("/vm1/x", "X-Server-Select: vm3"))
    seen["pin_path_beats_bogus_header"] = raw(get("/vm1/x", "X-Server-Select: bogus"))
    # The path normalised (RFC 3986 dot segments, merged slashes, decoded unreserved
    # characters) before it is matched.
    for target in ("/vm3/../vm1/x", "//vm3/x", "/vm2//agent", "/%76m3/x", "/vm1/./x"):
        seen[f"pin_path_normalised {target}"] = raw(get(target))
    # "/vmN" without the slash: redirected to "/vmN/", the query kept.
    seen["pin_path_without_slash"] = raw(get("/vm2"))
    seen["pin_path_without_slash_query"] = raw(get("/vm2?x=1"))
    # An unknown path pin (eclb refuses; the image sends it to any gateway).
    seen["pin_path_unknown"] = unpinned(raw(get("/vm9/x")))


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
    routing_as_the_image(seen)
    hostile_and_odd_requests(seen)
    print(json.dumps(seen, sort_keys=True))


asyncio.run(main())
