"""Shared helpers of the namespace integration tests: processes run in a namespace with
their output in a log file, eclbctl as JSON, waiting with a deadline, and PASS/FAIL
bookkeeping that ends with the "N passed, M failed" line."""
import json
import os
import signal
import subprocess
import sys
import time


class Results:
    def __init__(self):
        self.passed = 0
        self.failed = 0

    def check(self, ok, name, detail=""):
        if ok:
            self.passed += 1
        else:
            self.failed += 1
        print(f"{'PASS' if ok else 'FAIL'}: {name}{' (' + str(detail) + ')' if detail != '' else ''}", flush=True)
        return ok

    def finish(self):
        print(f"{self.passed} passed, {self.failed} failed", flush=True)
        return 0 if self.failed == 0 and self.passed > 0 else 1


class Process:
    """A background process, optionally inside a network namespace, logging to a file."""

    def __init__(self, name, argv, log_dir, netns=None):
        self.name = name
        self.log_path = os.path.join(log_dir, f"{name}.log")
        self.log = open(self.log_path, "w")
        if netns:
            argv = ["ip", "netns", "exec", netns] + argv
        self.popen = subprocess.Popen(argv, stdout=self.log, stderr=subprocess.STDOUT)

    def alive(self):
        return self.popen.poll() is None

    def stop(self, sig=signal.SIGTERM, timeout=15):
        if self.alive():
            self.popen.send_signal(sig)
            try:
                self.popen.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()
        self.log.close()
        return self.popen.returncode

    def logged(self, text):
        """Whether the process has written `text` to its log so far."""
        with open(self.log_path) as f:
            return text in f.read()

    def tail(self, lines=30):
        with open(self.log_path) as f:
            return "".join(f.readlines()[-lines:])


def wait_for(condition, timeout, interval=0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval)
    return condition()


class Eclbctl:
    def __init__(self, binary, segment, stats, flows):
        self.base = [binary, "--segment", segment, "--stats", stats, "--flows", flows]

    def json(self, *args):
        out = subprocess.run(self.base + list(args) + ["--json"], capture_output=True, text=True)
        if out.returncode != 0:
            return None
        return json.loads(out.stdout)

    def text(self, *args):
        return subprocess.run(self.base + list(args), capture_output=True, text=True).stdout


def in_netns(netns, *command):
    """Runs a command inside a network namespace; returns the CompletedProcess (text)."""
    return subprocess.run(["ip", "netns", "exec", netns, *command], capture_output=True, text=True)


def get_json(url, timeout=3):
    """GET url and parse the body as JSON; None on any network or parse error."""
    import urllib.request
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return json.loads(response.read().decode())
    except (OSError, ValueError):
        return None


def exposition_problems(text):
    """What is wrong with a /metrics body, read by a real parser (prometheus_client): a
    family whose samples are split into several groups, or samples without a TYPE.
    Returns (number of families, problems)."""
    from prometheus_client.parser import text_string_to_metric_families
    try:
        families = list(text_string_to_metric_families(text))
    except ValueError as error:
        return 0, [f"unparsable: {error}"]
    names = [family.name for family in families]
    problems = [f"{name} in {names.count(name)} groups" for name in sorted(set(names)) if names.count(name) > 1]
    # prometheus_client reads both "# TYPE x untyped" and no TYPE at all as "unknown".
    declared = {line.split()[2] for line in text.splitlines() if line.startswith("# TYPE ")}
    problems += [f"{family.name} has no TYPE" for family in families
                 if family.type == "unknown" and family.name not in declared]
    return len(families), problems


def gateways_pool_yaml(health="{ check: tcp, interval_ms: 500, timeout_ms: 400, rise: 1, fall: 2 }"):
    """The pool of the three namespace gateways (topology.sh), as YAML under `pools:`."""
    return f"""  gateways:
    health: {health}
    backends:
      - {{ name: vm1, address: 10.99.0.21, port: 8080 }}
      - {{ name: vm2, address: 10.99.0.22, port: 8080 }}
      - {{ name: vm3, address: 10.99.0.23, port: 8080 }}
"""


def fail_fast(message):
    print(f"FAIL: {message}", flush=True)
    print("0 passed, 1 failed", flush=True)
    sys.exit(1)


class GatewayConnection:
    """A TCP connection through the VIP to a gateway_server.py: reads the greeting
    ("<gateway> <client as the gateway sees it>"), then echoes."""

    def __init__(self, vip, vip_port, port, timeout=3, source="10.99.0.10"):
        import socket
        self.port = port
        self.sock = socket.socket()
        self.sock.bind((source, port))
        self.sock.settimeout(timeout)
        self.sock.connect((vip, vip_port))
        banner = b""
        while not banner.endswith(b"\n"):
            chunk = self.sock.recv(100)
            if not chunk:
                raise ConnectionError("closed before the banner")
            banner += chunk
        self.backend, self.seen_as = banner.decode().split()

    def echo(self, size):
        import random
        data = random.randbytes(size)
        self.sock.sendall(data)
        got = b""
        while len(got) < size:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("closed")
            got += chunk
        return got == data


def open_connections(vip, vip_port, ports, timeout=3):
    """Opens a GatewayConnection from each client port; returns (opened, errors)."""
    opened, errors = [], []
    for port in ports:
        try:
            opened.append(GatewayConnection(vip, vip_port, port, timeout))
        except OSError as error:
            errors.append(f"{port}: {error}")
    return opened, errors
