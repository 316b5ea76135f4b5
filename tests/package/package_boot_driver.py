#!/usr/bin/python3
"""The installed package under a booted systemd (package_test.sh starts systemd-nspawn
-b in the "lb" namespace and runs this in the client namespace). Commands reach the
container through nsenter into its PID 1's namespaces. Checks: the units verify; the
services start and report readiness; eclb-control runs as eclb with only
CAP_NET_BIND_SERVICE; operators in group eclb use eclbctl without root, others cannot
change anything; fullnat traffic flows; eclb-control SIGKILLed is restarted while the
dataplane keeps forwarding (no connection broken, new ones accepted); a hung process
(SIGSTOP) of either service is killed by the watchdog and restarted (the dataplane
adopting its flows); logs reach the journal with priorities and without a second
timestamp; stopping eclb.target stops both."""
import argparse
import os
import re
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration", "lib"))
import harness  # noqa: E402
from harness import Results, wait_for  # noqa: E402

parser = argparse.ArgumentParser()
parser.add_argument("--nspawn-pid", type=int, required=True)
parser.add_argument("--vip", required=True)
args = parser.parse_args()
results = Results()
UNITS = ["eclb-control.service", "eclb-dataplane.service", "eclb-setup.service", "eclb.target"]


def container_init():
    """PID 1 of the container, as this (host) PID namespace numbers it."""
    try:
        children = subprocess.run(["pgrep", "-P", str(args.nspawn_pid)], capture_output=True, text=True).stdout.split()
    except OSError:
        return None
    for pid in children:
        try:
            with open(f"/proc/{pid}/comm") as f:
                if f.read().strip() == "systemd":
                    return int(pid)
        except OSError:
            pass
    return None


init = None


def exited(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"  # a zombie until the shell reaps it
    except OSError:
        return True


def inside(*command, user=None, timeout=30):
    """Runs a command in the container (as root, or as `user` through runuser)."""
    argv = ["nsenter", "-t", str(init), "-m", "-u", "-i", "-n", "-p", "--"]
    argv += ["runuser", "-u", user, "--"] if user else []
    try:
        return subprocess.run(argv + list(command), capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as error:
        return subprocess.CompletedProcess(argv, 124, "", f"timed out: {error}")


def show(unit, prop):
    return inside("systemctl", "show", "-p", prop, "--value", unit).stdout.strip()


def active(unit):
    return show(unit, "ActiveState") == "active" and show(unit, "SubState") == "running"


def main_pid(unit):
    return int(show(unit, "MainPID") or 0)


def restarts(unit):
    return int(show(unit, "NRestarts") or 0)


class Traffic:
    """Long-lived connections echoing, plus a new connection every 100 ms, through the VIP."""

    def __init__(self):
        self.connections, errors = harness.open_connections(args.vip, 443, range(42000, 42040))
        for c in self.connections:
            c.sock.settimeout(30)  # TCP rides out a frozen dataplane by retransmitting: wait with it
        self.errors = list(errors)
        self.next_port = 43000
        self.new_ok = 0
        self.opening = True  # new connections too (not while the dataplane is frozen on purpose)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        self.rounds = 0
        while not self.stop.is_set():
            for c in self.connections:
                try:
                    if not c.echo(64):
                        self.errors.append(f"{c.port}: echo differs")
                except OSError as error:
                    self.errors.append(f"{c.port}: {error}")
            if self.opening:
                try:
                    harness.GatewayConnection(args.vip, 443, self.next_port, timeout=3).sock.close()
                    self.new_ok += 1
                except OSError as error:
                    self.errors.append(f"new {self.next_port}: {error}")
                self.next_port += 1
            self.rounds += 1
            time.sleep(0.1)

    def finish(self):
        self.stop.set()
        self.thread.join(10)
        for c in self.connections:
            c.sock.close()
        return self.errors


def echoed_since(traffic, rounds):
    """True once `rounds` more full rounds of echoes completed (counted from the first call)."""
    if not hasattr(traffic, "mark"):
        traffic.mark = traffic.rounds
    return traffic.rounds >= traffic.mark + rounds


def scenario():
    global init
    init = wait_for(container_init, 30) and container_init()
    if not init:
        return results.check(False, "the container booted")
    # Until the container's systemd has its private socket, systemctl cannot even ask.
    booted = {}

    def system_state():
        answer = inside("systemctl", "is-system-running", "--wait", timeout=90)
        booted["state"] = answer.stdout.strip() or answer.stderr.strip()
        return booted["state"] in ("running", "degraded")

    wait_for(system_state, 90, interval=1)
    state = booted.get("state")
    results.check(state in ("running", "degraded"), "systemd booted as PID 1 in the container", state)
    if state == "degraded":
        print(inside("systemctl", "--failed", "--no-legend").stdout)

    verify = inside("systemd-analyze", "verify", *UNITS)
    results.check(verify.returncode == 0 and not verify.stderr.strip(), "systemd-analyze verify: the units are clean",
                  verify.stderr.strip()[:500])
    security = inside("systemd-analyze", "security", "--no-pager", "eclb-control.service").stdout
    exposure = re.search(r"Overall exposure level for eclb-control.service: ([0-9.]+)", security)
    print(f"  systemd-analyze security eclb-control.service: {exposure.group(1) if exposure else '?'} (10 = unconfined)")

    enabled = inside("systemctl", "enable", "--now", "eclb.target")
    results.check(enabled.returncode == 0, "systemctl enable --now eclb.target", enabled.stderr.strip()[:300])
    up = wait_for(lambda: active("eclb-control.service") and active("eclb-dataplane.service"), 60)
    results.check(up, "both services start and report readiness (Type=notify: active only after READY=1)",
                  {u: show(u, "ActiveState") + "/" + show(u, "SubState") for u in UNITS[:2]})
    if not up:
        print(inside("journalctl", "-b", "--no-pager", "-n", "60").stdout)
        return
    status = {u: show(u, "StatusText") for u in UNITS[:2]}
    results.check(status["eclb-control.service"].startswith("generation") and
                  status["eclb-dataplane.service"].startswith("forwarding"), "each service's status line says what it does",
                  status)
    watchdog = {u: show(u, "WatchdogUSec") for u in UNITS[:2]}
    results.check(all(v == "10s" for v in watchdog.values()), "both services run under a 10 s watchdog", watchdog)

    control = main_pid("eclb-control.service")
    owner = inside("ps", "-o", "user=", "-p", str(control)).stdout.strip()
    caps = inside("grep", "-E", "^Cap(Eff|Bnd|Amb):", f"/proc/{control}/status").stdout.split()
    results.check(owner == "eclb" and caps[1::2] == ["0000000000000400"] * 3,
                  "eclb-control runs as eclb with CAP_NET_BIND_SERVICE only (effective, bounding, ambient)",
                  f"user={owner} {caps}")
    # The dataplane: root, bounded to the capabilities eclb-dataplane.service lists.
    wanted = {"dac_override": 1, "net_admin": 12, "net_raw": 13, "ipc_lock": 14, "sys_rawio": 17, "sys_admin": 21,
              "sys_nice": 23, "perfmon": 38, "bpf": 39}
    mask = f"{sum(1 << bit for bit in wanted.values()):016x}"
    status = inside("cat", f"/proc/{main_pid('eclb-dataplane.service')}/status").stdout
    bounding = re.search(r"^CapBnd:\s+(\w+)", status, re.M)
    no_new = re.search(r"^NoNewPrivs:\s+(\d)", status, re.M)
    results.check(bounding and bounding.group(1) == mask and no_new and no_new.group(1) == "1",
                  "eclb-dataplane is bounded to " + ", ".join(sorted(wanted)) + " with NoNewPrivileges",
                  f"CapBnd={bounding.group(1) if bounding else None} want {mask}")
    sock = inside("stat", "-c", "%U:%G %a", "/run/eclb/admin.sock").stdout.strip()
    results.check(sock == "eclb:eclb 660", "the admin socket is eclb:eclb 0660", sock)
    as_operator = inside("eclbctl", "backends", "watchers", user="opsuser")
    drain = inside("eclbctl", "drain", "gw3", user="opsuser")
    undrain = inside("eclbctl", "undrain", "gw3", user="opsuser")
    results.check(as_operator.returncode == 0 and "gw1" in as_operator.stdout and drain.returncode == 0 and
                  undrain.returncode == 0, "a member of group eclb reads and changes through eclbctl without root",
                  (as_operator.stderr + drain.stderr + undrain.stderr).strip()[:300])
    outsider = inside("eclbctl", "drain", "gw3", user="outsider")
    results.check(outsider.returncode != 0 and "ermission denied" in outsider.stderr,
                  "a user outside group eclb cannot change anything", outsider.stderr.strip()[:200])

    # Traffic, then eclb-control SIGKILLed: systemd restarts it, the dataplane forwards on.
    traffic = Traffic()
    results.check(not traffic.errors and len(traffic.connections) == 40, "40 fullnat connections through the VIP",
                  traffic.errors[:3])
    dataplane = main_pid("eclb-dataplane.service")
    before = restarts("eclb-control.service")
    inside("systemctl", "kill", "--signal=SIGKILL", "eclb-control.service")
    back = wait_for(lambda: restarts("eclb-control.service") == before + 1 and active("eclb-control.service"), 15)
    time.sleep(1)
    results.check(back and main_pid("eclb-control.service") not in (0, control),
                  "eclb-control SIGKILLed: systemd restarts it (Restart=always)",
                  f"restarts={restarts('eclb-control.service')} pid={main_pid('eclb-control.service')}")
    results.check(main_pid("eclb-dataplane.service") == dataplane and restarts("eclb-dataplane.service") == 0,
                  "eclb-dataplane is not restarted with it", main_pid("eclb-dataplane.service"))
    results.check(not traffic.errors and traffic.new_ok > 0,
                  "meanwhile every connection echoed and new ones were accepted",
                  f"new={traffic.new_ok} errors={traffic.errors[:3]}")

    # A hung eclb-control (SIGSTOP): the watchdog kills it and systemd restarts it.
    control = main_pid("eclb-control.service")
    before = restarts("eclb-control.service")
    stopped = time.monotonic()
    inside("kill", "-STOP", str(control))
    back = wait_for(lambda: restarts("eclb-control.service") == before + 1 and active("eclb-control.service"), 25)
    took = time.monotonic() - stopped
    log = inside("journalctl", "-u", "eclb-control.service", "--no-pager", "-o", "cat").stdout
    results.check(back and "Watchdog timeout" in log, f"a hung eclb-control is killed by the watchdog and restarted "
                  f"({took:.1f} s after SIGSTOP)", f"restarts={restarts('eclb-control.service')}")
    results.check(not traffic.errors, "no connection broken while eclb-control hung", traffic.errors[:3])

    # A hung eclb-dataplane: the same, and the new process adopts the flows.
    dataplane = main_pid("eclb-dataplane.service")
    traffic.opening = False
    stopped = time.monotonic()
    inside("kill", "-STOP", str(dataplane))
    back = wait_for(lambda: restarts("eclb-dataplane.service") == 1 and active("eclb-dataplane.service"), 40)
    took = time.monotonic() - stopped
    log = inside("journalctl", "-u", "eclb-dataplane.service", "--no-pager", "-o", "cat").stdout
    adopted = re.findall(r"flow region path=\S+ adopted [^\n]*entries=[1-9][^\n]*", log)
    results.check(back and "Watchdog timeout" in log, f"a hung eclb-dataplane is killed by the watchdog and restarted "
                  f"({took:.1f} s after SIGSTOP)", f"restarts={restarts('eclb-dataplane.service')}")
    results.check(bool(adopted), "the restarted dataplane adopts the flow region", adopted[-1:] or log[-500:])
    rounds = wait_for(lambda: echoed_since(traffic, 2), 40)
    traffic.opening = True
    opened = traffic.new_ok
    time.sleep(1)
    errors = traffic.finish()
    results.check(rounds and not errors and traffic.new_ok > opened,
                  "every connection survived the frozen dataplane and its restart (flows adopted), and new ones open",
                  errors[:3])

    # An upgrade (the same package again, as dpkg runs any upgrade): postinst restarts
    # eclb-control and leaves the dataplane running, saying so.
    control, dataplane = main_pid("eclb-control.service"), main_pid("eclb-dataplane.service")
    package = inside("sh", "-c", "ls /root/eclb_*.deb").stdout.strip()
    upgrade = inside("dpkg", "-i", package, timeout=120)
    back = wait_for(lambda: active("eclb-control.service"), 15)
    results.check(upgrade.returncode == 0 and back and main_pid("eclb-control.service") not in (0, control) and
                  main_pid("eclb-dataplane.service") == dataplane and "eclb-dataplane still runs the previous version"
                  in upgrade.stdout, "an upgrade restarts eclb-control, leaves eclb-dataplane forwarding and says so",
                  (upgrade.stdout + upgrade.stderr).strip()[-400:])

    # The journal: key=value lines with their priority, and no second timestamp.
    plain = inside("journalctl", "-u", "eclb-control.service", "-p", "info..info", "--no-pager", "-o", "cat").stdout
    warnings = inside("journalctl", "-u", "eclb-control.service", "-p", "warning", "--no-pager", "-o", "cat").stdout
    lines = [line for line in plain.splitlines() if "control: admin socket path=" in line]
    results.check(bool(lines) and lines[0].startswith("info control: admin socket") and
                  "admin socket path=" not in warnings and
                  not any(re.match(r"\d{4}-\d\d-\d\dT", line) for line in plain.splitlines()),
                  "logs reach the journal at their priority, without a timestamp of their own", lines[:1])

    stopped = inside("systemctl", "stop", "eclb.target")
    gone = wait_for(lambda: show("eclb-control.service", "ActiveState") == "inactive" and
                    show("eclb-dataplane.service", "ActiveState") == "inactive", 30)
    results.check(stopped.returncode == 0 and gone, "systemctl stop eclb.target stops both services",
                  {u: show(u, "ActiveState") for u in UNITS[:2]})


try:
    scenario()
except Exception as error:  # a broken step must still report
    results.check(False, "the boot driver ran to the end", repr(error))
finally:
    if init and results.failed:
        print(inside("eclbctl", "stats").stdout[-3000:])
        print(inside("journalctl", "--no-pager", "-o", "short-monotonic", "-u", "eclb-control", "-u", "eclb-dataplane",
                     "-n", "120").stdout)
    if init:
        inside("systemctl", "poweroff", "--no-block")
    wait_for(lambda: exited(args.nspawn_pid), 30)
sys.exit(results.finish())
