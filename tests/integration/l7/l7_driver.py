#!/usr/bin/python3
"""eclb-control's L7 proxy end to end, run inside the client namespace by
l7_end_to_end_test.sh. eclb-control runs in the LB namespace, which holds the VIP; three
WebSocket gateways (ws_gateway.py) run in theirs. Real clients: curl, openssl s_client
and Python websockets. Checks: wss:// echo; spread over the gateways exactly as
`eclbctl which` predicts; forwarding headers; pins by header and path (and 502/503 for
unknown and unavailable ones); 301 on port 80; the non-TLS mode; PROXY protocol v2;
certificate reload with connections open (and a bad certificate rejected); garbage,
plaintext, half-open handshakes and oversized heads on 443; a gateway killed
mid-stream; and no connection or descriptor left behind."""
import argparse
import asyncio
import hashlib
import json
import os
import random
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

import websockets

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from harness import Eclbctl, Process, Results, exposition_problems, fail_fast, wait_for  # noqa: E402

parser = argparse.ArgumentParser()
parser.add_argument("--bin", required=True)
parser.add_argument("--lb-netns", required=True)
parser.add_argument("--gw-netns", required=True, nargs=3)
args = parser.parse_args()

HERE = os.path.dirname(os.path.abspath(__file__))
VIP = "10.99.0.100"
CLIENT = "10.99.0.10"
NAME = "watchers.test"
INTERVAL_MS, FALL, RISE = 300, 2, 2
HANDSHAKE_TIMEOUT_MS = 1500
results = Results()
work = tempfile.mkdtemp(prefix="eclb-l7-", dir="/dev/shm")
ctl = Eclbctl(f"{args.bin}/control/cli/eclbctl", f"{work}/tables", f"{work}/stats", f"{work}/flows")
ctl.base += ["--admin", f"{work}/admin.sock"]


def make_certificate(name):
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                    "-days", "2", "-subj", f"/CN={name}", "-addext", f"subjectAltName=DNS:{name}",
                    "-keyout", f"{work}/certkey.key", "-out", f"{work}/cert.crt"], check=True, capture_output=True)
    with open(f"{work}/cert.crt", "rb") as f:
        pem = f.read()
    with open(f"{work}/ca.crt", "wb") as f:  # what clients trust (cert.crt gets broken on purpose below)
        f.write(pem)
    return pem


make_certificate(NAME)
CONFIG = f"""tables: {{ segment: {work}/tables }}
control: {{ admin_socket: {work}/admin.sock, metrics: "{VIP}:9469" }}
l7: {{ handshake_timeout_ms: {HANDSHAKE_TIMEOUT_MS}, max_header_bytes: 8192, threads: 2 }}
pools:
  gateways:
    health: {{ check: websocket, path: /agent, interval_ms: {INTERVAL_MS}, timeout_ms: 250, rise: {RISE}, fall: {FALL} }}
    backends:
      - {{ name: vm1, address: 10.99.0.21, port: 8080 }}
      - {{ name: vm2, address: 10.99.0.22, port: 8080 }}
      - {{ name: vm3, address: 10.99.0.23, port: 8080 }}
  recorder:
    backends:
      - {{ name: recorder, address: {CLIENT}, port: 9100 }}
vips:
  - name: agents
    address: {VIP}
    port: 443
    mode: l7
    pool: gateways
    l7:
      tls: [ {{ cert: {work}/cert.crt, key: {work}/certkey.key }} ]
      redirect_port: 80
      redirect_host: {NAME}
  - {{ name: plain, address: {VIP}, port: 8000, mode: l7, pool: gateways }}
  - {{ name: proxied, address: {VIP}, port: 8100, mode: l7, pool: recorder, l7: {{ proxy_protocol: true }} }}
"""
with open(f"{work}/eclb.yaml", "w") as f:
    f.write(CONFIG)

gateways = {}


def start_gateway(index, *extra):
    gateways[index] = Process(f"gw{index}", ["/usr/bin/python3", f"{HERE}/../lib/ws_gateway.py", "--name", f"vm{index}",
                                             "--lifetime", "600", *extra], work, netns=args.gw_netns[index - 1])


def client_context():
    context = ssl.create_default_context(cafile=f"{work}/ca.crt")
    return context


async def ws_connect(path="/agent", port=443, tls=True, source_port=0, headers=None):
    """Connects from CLIENT:source_port; returns (websocket, greeting gateway, local port)."""
    sock = socket.socket()
    sock.bind((CLIENT, source_port))
    sock.settimeout(5)
    sock.connect((VIP, port))
    sock.setblocking(False)
    local_port = sock.getsockname()[1]
    scheme = "wss" if tls else "ws"
    ws = await websockets.connect(f"{scheme}://{NAME}:{port}{path}", sock=sock, ssl=client_context() if tls else None,
                                  server_hostname=NAME if tls else None, compression=None, open_timeout=5,
                                  extra_headers=headers or {}, ping_interval=None, max_size=2**22)
    greeting = await asyncio.wait_for(ws.recv(), 5)
    return ws, greeting.split()[0], local_port


async def echoes(ws, size=1000):
    data = random.randbytes(size)
    await ws.send(data)
    return await asyncio.wait_for(ws.recv(), 5) == data


def curl(*extra, url):
    out = subprocess.run(["curl", "-sS", "-m", "5", "--cacert", f"{work}/ca.crt", "--resolve", f"{NAME}:443:{VIP}",
                          "-o", "-", "-w", "\n%{http_code}", *extra, url], capture_output=True, text=True)
    body, _, code = out.stdout.rpartition("\n")
    return int(code or 0), body


def metrics():
    try:
        with urllib.request.urlopen(f"http://{VIP}:9469/metrics", timeout=3) as response:
            text = response.read().decode()
    except OSError:
        return {}
    values = {}
    for line in text.splitlines():
        if line.startswith("eclb_l7_"):
            name, value = line.rsplit(" ", 1)
            values[name] = float(value)
    return values


def l7(counter, vip="agents"):
    suffix = "" if counter == "connections" else "_total"
    return metrics().get(f'eclb_l7_{counter}{suffix}{{vip="{vip}"}}', -1)


def state_of(name):
    backends = ctl.json("backends", "agents") or {}
    for backend in backends.get("backends", []):
        if backend["name"] == name:
            return backend["state"]
    return None


def open_fds(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def l7_thread_cpu(pid):
    """CPU ticks (user + system) of each L7 proxy thread, by thread name (eclb-l7-N)."""
    ticks = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/comm") as f:
                name = f.read().strip()
            with open(f"/proc/{pid}/task/{tid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        if name.startswith("eclb-l7-"):
            ticks[name] = int(fields[11]) + int(fields[12])
    return ticks


# A PROXY protocol v2 recorder standing in for a gateway that reads the header.
proxied = {}


def recorder():
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind((CLIENT, 9100))
    server.listen(8)
    server.settimeout(60)
    try:
        while True:
            conn, _ = server.accept()
            conn.settimeout(5)
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = conn.recv(4096)
                if not chunk:
                    break
                data += chunk
            proxied["header"] = data[:28]
            proxied["request"] = data[28:]
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: close\r\n\r\nok\n")
            conn.close()
    except OSError:
        pass


threading.Thread(target=recorder, daemon=True).start()
for i in (1, 2, 3):
    start_gateway(i)
control = Process("eclb-control", [f"{args.bin}/control/daemon/eclb-control", "--config", f"{work}/eclb.yaml"], work,
                  netns=args.lb_netns)
def checked_up(name):
    return any(b["name"] == name and b["pool"] == "gateways" and b["last_ok"] is True and b["health"] == "up"
               for b in ctl.json("health") or [])


if not wait_for(lambda: all(checked_up(f"vm{i}") for i in (1, 2, 3)), 15):
    print(control.tail())
    fail_fast("gateways never all up behind the L7 VIP")


async def main():
    pid = control.popen.pid
    baseline_fds = open_fds(pid)

    # 1. wss:// echo through eclb, a large frame included.
    ws, gateway, _ = await ws_connect()
    results.check(gateway in ("vm1", "vm2", "vm3") and await echoes(ws, 200_000), "wss:// echo through eclb", gateway)
    await ws.send("?request")
    seen = json.loads(await ws.recv())
    headers = seen["headers"]
    results.check(headers.get("x-forwarded-for") == CLIENT and headers.get("x-real-ip") == CLIENT and
                  headers.get("x-forwarded-proto") == "https" and headers.get("host") == NAME and
                  headers.get("upgrade") == "websocket",
                  "the gateway sees X-Forwarded-For, X-Real-IP, X-Forwarded-Proto https, Host and the upgrade", headers)
    await ws.close()

    # 2. Spread: every connection lands where the VIP's Maglev table says (eclbctl which).
    spread, disagreements = {}, []
    for source_port in range(42000, 42045):
        ws, gateway, port = await ws_connect(source_port=source_port)
        predicted = (ctl.json("which", "agents", f"{CLIENT}:{port}") or {}).get("backend") or {}
        if predicted.get("name") != gateway:
            disagreements.append((port, gateway, predicted.get("name")))
        spread[gateway] = spread.get(gateway, 0) + 1
        await ws.close()
    results.check(len(spread) == 3 and not disagreements,
                  "45 connections spread over all 3 gateways, each where `eclbctl which` predicts",
                  f"{spread} disagreements={disagreements[:3]}")

    # 3. Pins: header (name and ip:port) and path prefix; unknown -> 502.
    code, body = curl("-H", "X-Server-Select: vm2", url=f"https://{NAME}/agent")
    pinned = {json.loads(curl("-H", "X-Server-Select: vm2", url=f"https://{NAME}/agent")[1])["gateway"] for _ in range(4)}
    results.check(code == 200 and pinned == {"vm2"}, "X-Server-Select: vm2 always reaches vm2", pinned)
    code, body = curl("-H", "X-Server-Select: 10.99.0.23:8080", url=f"https://{NAME}/")
    results.check(code == 200 and json.loads(body)["gateway"] == "vm3", "X-Server-Select: ip:port reaches that gateway")
    code, body = curl(url=f"https://{NAME}/vm1/agent?id=7")
    results.check(code == 200 and json.loads(body)["gateway"] == "vm1" and json.loads(body)["path"] == "/agent?id=7",
                  "path /vm1/agent?id=7 reaches vm1 as /agent?id=7", body.strip())
    ws, gateway, _ = await ws_connect("/vm3/agent")
    await ws.send("?request")
    results.check(gateway == "vm3" and json.loads(await ws.recv())["path"] == "/agent", "wss:// to /vm3/agent reaches vm3")
    await ws.close()
    code, body = curl("-H", "X-Server-Select: vm9", url=f"https://{NAME}/agent")
    code2, _ = curl(url=f"https://{NAME}/vm9/agent")
    results.check(code == 502 and code2 == 502 and "vm9" in body, "an unknown pin gets 502, by header and by path",
                  f"{code} {code2} {body.strip()}")

    # 4. Port 80: 301 to https://DNS_NAME with the path kept.
    code, _ = curl("-D", f"{work}/redirect.head", url=f"http://{VIP}/vm1/agent?x=1")
    with open(f"{work}/redirect.head") as f:
        location = [line.split(" ", 1)[1].strip() for line in f if line.lower().startswith("location:")]
    results.check(code == 301 and location == [f"https://{NAME}/vm1/agent?x=1"], "port 80 answers 301 to https://DNS_NAME",
                  f"{code} {location}")

    # 5. Non-TLS mode: a VIP without a certificate proxies plain HTTP and ws://, pins too.
    code, body = curl(url=f"http://{VIP}:8000/vm2/x")
    results.check(code == 200 and json.loads(body)["gateway"] == "vm2" and
                  json.loads(body)["headers"].get("x-forwarded-proto") == "http", "plain HTTP VIP proxies with pins")
    ws, gateway, _ = await ws_connect("/agent", port=8000, tls=False, headers={"X-Server-Select": "vm1"})
    results.check(gateway == "vm1" and await echoes(ws), "ws:// through the plain VIP, pinned by header")
    await ws.close()

    # 6. PROXY protocol v2 towards the backend.
    code, body = curl(url=f"http://{VIP}:8100/pp")
    header = proxied.get("header", b"")
    expected = (b"\r\n\r\n\x00\r\nQUIT\n" + bytes([0x21, 0x11, 0, 12]) + socket.inet_aton(CLIENT) + socket.inet_aton(VIP))
    results.check(code == 200 and header[:24] == expected and int.from_bytes(header[26:28], "big") == 8100 and
                  proxied.get("request", b"").startswith(b"GET /pp HTTP/1.1"),
                  "PROXY protocol v2 header precedes the request", header.hex())

    # 7. Certificate reload with connections open; a bad certificate is rejected.
    held = [(await ws_connect())[0] for _ in range(5)]

    def peer_certificate():
        with socket.create_connection((VIP, 443), timeout=5) as raw:
            with client_context().wrap_socket(raw, server_hostname=NAME) as tls:
                return tls.getpeercert(binary_form=True)

    before = peer_certificate()
    make_certificate(NAME)  # a new key and certificate at the same paths
    reload = subprocess.run(ctl.base + ["reload"], capture_output=True, text=True)
    after = peer_certificate()
    still = [await echoes(ws) for ws in held]
    results.check(reload.returncode == 0 and before != after and all(still),
                  "certificate reload: new connections get the new certificate, open ones keep going",
                  f"rc={reload.returncode} changed={before != after} open_ok={sum(still)}/5")
    with open(f"{work}/cert.crt", "w") as f:
        f.write("-----BEGIN CERTIFICATE-----\ngarbage\n-----END CERTIFICATE-----\n")
    bad = subprocess.run(ctl.base + ["reload"], capture_output=True, text=True)
    results.check(bad.returncode != 0 and "certificate" in (bad.stderr + bad.stdout) and peer_certificate() == after,
                  "a reload with a bad certificate is rejected and the running one keeps serving",
                  (bad.stderr + bad.stdout).strip()[:160])
    with open(f"{work}/cert.crt", "wb") as f:
        f.write(ssl.DER_cert_to_PEM_cert(after).encode())
    for ws in held:
        await ws.close()

    # 8. Bad input on 443.
    failed_before = l7("tls_handshake_failed")
    with socket.create_connection((VIP, 443), timeout=3) as raw:
        raw.sendall(b"\x00" + random.randbytes(2047))
        try:
            closed = raw.recv(100) == b""
        except ConnectionResetError:
            closed = True
    results.check(closed and wait_for(lambda: l7("tls_handshake_failed") > failed_before, 3),
                  "garbage on 443: closed and counted as a failed handshake")
    code, body = curl(url=f"http://{VIP}:443/")
    results.check(code == 400 and "HTTPS port" in body, "plaintext HTTP on 443 gets 400", f"{code} {body.strip()}")
    timeouts_before = l7("handshake_timeout")
    silent = []
    for i in range(40):
        sock = socket.create_connection((VIP, 443), timeout=5)
        if i % 2:
            sock.sendall(b"\x16\x03\x01\x02\x00")  # a ClientHello that never comes
        silent.append(sock)
    started = time.monotonic()
    code, _ = curl(url=f"https://{NAME}/vm2/agent")
    served = code == 200 and time.monotonic() - started < 1.0

    def all_closed():
        for sock in silent:
            try:
                sock.settimeout(0.05)
                if sock.recv(1) != b"":
                    return False
            except socket.timeout:
                return False
            except OSError:
                pass
        return True

    closed = wait_for(all_closed, HANDSHAKE_TIMEOUT_MS / 1000 + 3, interval=0.2)
    results.check(served and closed and l7("handshake_timeout") >= timeouts_before + 40,
                  "40 half-open handshakes: others are served meanwhile, all 40 are closed after the timeout",
                  f"served={served} closed={closed} counted={l7('handshake_timeout') - timeouts_before}")
    for sock in silent:
        sock.close()
    code, _ = curl("-H", "X-Big: " + "a" * 9000, url=f"https://{NAME}/agent")
    results.check(code == 431, "a request head over max_header_bytes gets 431", code)
    s_client = subprocess.run(["openssl", "s_client", "-connect", f"{VIP}:443", "-servername", NAME, "-tls1_1"],
                              input="", capture_output=True, text=True, timeout=10)
    results.check(s_client.returncode != 0, "openssl s_client with TLS 1.1 is refused")
    s_client = subprocess.run(["openssl", "s_client", "-connect", f"{VIP}:443", "-servername", NAME, "-tls1_2",
                               "-CAfile", f"{work}/ca.crt", "-quiet"],
                              input=f"GET /vm1/ HTTP/1.1\r\nHost: {NAME}\r\n\r\n", capture_output=True, text=True,
                              timeout=10)
    results.check('"gateway": "vm1"' in s_client.stdout, "openssl s_client with TLS 1.2 gets through", s_client.stdout[:80])

    # 9. A gateway killed mid-stream: its clients are closed, pins to it get 503 once it
    #    is down, everyone else carries on; restarted, pins work again.
    on_vm1 = [(await ws_connect("/vm1/agent"))[0] for _ in range(3)]
    others = [(await ws_connect("/vm2/agent"))[0] for _ in range(2)]
    resets_before = l7("upstream_reset")
    gateways[1].stop(signal.SIGKILL)

    async def closed_soon(ws):
        try:
            await asyncio.wait_for(ws.recv(), 5)
            return False
        except websockets.ConnectionClosed:
            return True
        except asyncio.TimeoutError:
            return False

    closed = await asyncio.gather(*(closed_soon(ws) for ws in on_vm1))
    results.check(all(closed), "clients of a killed gateway see their connection closed", closed)
    down = wait_for(lambda: state_of("vm1") == "down", FALL * INTERVAL_MS / 1000 + 3)
    code, body = curl(url=f"https://{NAME}/vm1/agent")
    others_ok = [await echoes(ws) for ws in others]
    results.check(down and code == 503 and "vm1" in body and all(others_ok),
                  "pin to the dead gateway gets 503, never another; other connections continue", f"{code} {body.strip()}")
    start_gateway(1)
    up = wait_for(lambda: checked_up("vm1") and state_of("vm1") == "up", RISE * INTERVAL_MS / 1000 + 5)
    code, body = curl(url=f"https://{NAME}/vm1/agent")
    results.check(up and code == 200, "the restarted gateway is pinnable again", code)
    for ws in others:
        await ws.close()

    # 9a. A gateway that takes requests and dies with them (reset, no answer) while its
    #     health checks pass: as nginx (proxy_next_upstream error), an unpinned GET goes
    #     on to the next gateway and never fails; a POST is not sent twice (502).
    gateways[1].stop(signal.SIGKILL)
    start_gateway(1, "--drop-path", "/drop")
    wait_for(lambda: checked_up("vm1") and state_of("vm1") == "up", RISE * INTERVAL_MS / 1000 + 5)
    retried_before = l7("upstream_retried")
    gets = [curl(url=f"https://{NAME}/drop/{i}") for i in range(30)]
    gets_on = {}
    for code, body in gets:
        gateway = json.loads(body)["gateway"] if code == 200 else str(code)
        gets_on[gateway] = gets_on.get(gateway, 0) + 1
    retried = l7("upstream_retried") - retried_before
    results.check(all(code == 200 for code, _ in gets) and "vm1" not in gets_on and retried >= 1,
                  "GETs whose gateway resets them unanswered are retried on the next one, none fails",
                  f"answered by {gets_on}, retried {retried}")
    posts = [curl("-X", "POST", "--data", "x", url=f"https://{NAME}/drop/{i}")[0] for i in range(30)]
    results.check(502 in posts and all(code in (200, 502) for code in posts),
                  "a POST whose gateway resets it unanswered gets 502, never a second gateway",
                  {code: posts.count(code) for code in set(posts)})
    gateways[1].stop(signal.SIGKILL)
    start_gateway(1)
    wait_for(lambda: checked_up("vm1") and state_of("vm1") == "up", RISE * INTERVAL_MS / 1000 + 5)

    # 9b. Isolation: under a stream of TLS handshakes (two openssl s_time clients), a
    #     killed gateway still leaves the table within fall x interval plus a margin.
    cpu_before = l7_thread_cpu(pid)
    load = [subprocess.Popen(["openssl", "s_time", "-connect", f"{VIP}:443", "-new", "-time", "6"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for _ in range(2)]
    time.sleep(1)
    accepted_before = l7("accepted")
    gateways[3].stop(signal.SIGKILL)
    killed = time.monotonic()
    left = wait_for(lambda: state_of("vm3") == "down", 5, interval=0.05)
    elapsed = time.monotonic() - killed
    handshakes = l7("accepted") - accepted_before
    for process in load:
        process.wait(timeout=15)
    bound = (FALL + 1) * INTERVAL_MS / 1000 + 0.5
    results.check(left and elapsed < bound and handshakes > 100,
                  "under TLS handshake load a killed gateway still leaves the table in time",
                  f"{elapsed:.2f}s (bound {bound:.2f}s) with {handshakes:.0f} connections accepted meanwhile")
    # l7.threads: 2 -- both loops accept from the same listener and share the handshakes.
    cpu_after = l7_thread_cpu(pid)
    spent = {name: cpu_after[name] - cpu_before.get(name, 0) for name in cpu_after}
    total = sum(spent.values())
    results.check(sorted(spent) == ["eclb-l7-0", "eclb-l7-1"] and total > 0 and min(spent.values()) >= 0.15 * total,
                  "two proxy threads (l7.threads: 2) share the TLS handshakes", f"CPU ticks per thread: {spent}")
    start_gateway(3)
    wait_for(lambda: checked_up("vm3") and state_of("vm3") == "up", RISE * INTERVAL_MS / 1000 + 5)

    # 10. Idle timeout: reloaded down to 1 s, a silent connection is closed while one that
    #     talks every 300 ms stays.
    with open(f"{work}/eclb.yaml", "w") as f:
        f.write(CONFIG.replace(f"l7: {{ handshake_timeout_ms", "l7: { idle_timeout_s: 1, handshake_timeout_ms"))
    reload = subprocess.run(ctl.base + ["reload"], capture_output=True, text=True)
    idle_before = l7("idle_timeout")
    quiet, _, _ = await ws_connect("/vm2/agent")
    chatty, _, _ = await ws_connect("/vm3/agent")
    talking = []
    for _ in range(8):
        talking.append(await echoes(chatty, 100))
        await asyncio.sleep(0.3)
    quiet_closed = await closed_soon(quiet)
    results.check(reload.returncode == 0 and quiet_closed and all(talking) and l7("idle_timeout") == idle_before + 1,
                  "idle timeout: the silent connection is closed, the talking one stays",
                  f"quiet_closed={quiet_closed} talking={sum(talking)}/8 counted={l7('idle_timeout') - idle_before}")
    await chatty.close()

    # 11. A reload moves the plain VIP from 8000 to 8001, while a connection it accepted is
    #     open: 8000 stops listening at once (nobody would accept there), the open
    #     connection carries on, and moving back, or removing the VIP, works as well.
    def refused(port):
        try:
            with socket.create_connection((VIP, port), timeout=2):
                return False
        except ConnectionRefusedError:
            return True
        except OSError:
            return False

    def serves(port):
        return curl(url=f"http://{VIP}:{port}/vm1/")[0] == 200

    def reload_with(config):
        with open(f"{work}/eclb.yaml", "w") as f:
            f.write(config)
        return subprocess.run(ctl.base + ["reload"], capture_output=True, text=True)

    reload_with(CONFIG)  # the idle timeout of 10. back to its default
    held, _, _ = await ws_connect("/vm1/agent", port=8000, tls=False)
    moved = CONFIG.replace("port: 8000,", "port: 8001,")
    reload = reload_with(moved)
    results.check(reload.returncode == 0 and refused(8000) and serves(8001) and await echoes(held),
                  "a reload moving a VIP 8000 -> 8001 closes 8000 even with its connection open, which carries on",
                  f"rc={reload.returncode} {reload.stderr.strip()[:120]} 8000_refused={refused(8000)}")
    back = reload_with(CONFIG)
    results.check(back.returncode == 0 and serves(8000) and refused(8001) and await echoes(held),
                  "and moving it back to 8000 works (no \"Address already in use\")", back.stderr.strip()[:160])
    removed = reload_with(CONFIG.replace(f"  - {{ name: plain, address: {VIP}, port: 8000, mode: l7, pool: gateways }}\n", ""))
    results.check(removed.returncode == 0 and refused(8000) and await echoes(held),
                  "removing the VIP by reload closes its port too", removed.stderr.strip()[:160])
    restored = reload_with(CONFIG)
    results.check(restored.returncode == 0 and serves(8000), "restored, it serves again", restored.stderr.strip()[:160])
    await held.close()

    # 12. The whole /metrics body, read by a real parser.
    with urllib.request.urlopen(f"http://{VIP}:9469/metrics", timeout=3) as response:
        families, problems = exposition_problems(response.read().decode())
    results.check(families > 10 and not problems,
                  f"/metrics with L7 counters read by prometheus_client: {families} families, each one group", problems[:5])

    # 13. Nothing left behind.
    drained = wait_for(lambda: l7("connections") == 0 and l7("connections", "plain") == 0, 5)
    fds = open_fds(pid)
    results.check(drained and fds <= baseline_fds + 2, "no connection or descriptor left behind",
                  f"connections={l7('connections')} fds={fds} baseline={baseline_fds} upstream_resets="
                  f"{l7('upstream_reset') - resets_before}")


try:
    asyncio.run(main())
except Exception as error:  # a broken step must still report and clean up
    results.check(False, "driver ran to the end", repr(error))
results.check(control.stop() == 0, "eclb-control stops cleanly on SIGTERM")
if results.failed:
    print(control.tail(40))
for process in gateways.values():
    process.stop()
if not results.failed:  # kept for a look when something failed
    shutil.rmtree(work, ignore_errors=True)
sys.exit(results.finish())
