"""The three loads of bench/l4, run from the client namespace, and the CPU accounting
beside them: wrk with `Connection: close` (a new connection per request: new connections
per second), wrk keep-alive (requests per second over 96 open connections), and iperf3
(bulk Gbit/s) both ways: client to server, where every byte crosses the balancer in
every mode, and server to client (-R), where the DSR modes' data bypasses it."""
import json
import os
import re
import resource
import subprocess
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TICKS = os.sysconf("SC_CLK_TCK")
WRK_THREADS = 3      # one per server in the direct reference
WRK_CONNECTIONS = 96


def wrk(targets, seconds, close):
    """Requests per second and error counts of one wrk run against http://targets[0]/
    (each thread to its own entry of targets)."""
    env = dict(os.environ, WRK_TARGETS=",".join(targets) if len(set(targets)) > 1 else "")
    argv = ["wrk", f"-t{WRK_THREADS}", f"-c{WRK_CONNECTIONS}", f"-d{seconds}s", "--timeout", "2s",
            "-s", os.path.join(HERE, "targets.lua"), f"http://{targets[0]}/"]
    if close:
        argv[1:1] = ["-H", "Connection: close"]
    try:
        out = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=seconds + 30)
    except subprocess.TimeoutExpired:
        return {"value": None, "error": f"wrk did not finish within {seconds + 30} s"}
    rate = re.search(r"Requests/sec:\s+([\d.]+)", out.stdout)
    if out.returncode != 0 or not rate:
        return {"value": None, "error": (out.stderr or out.stdout).strip()[-300:]}
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out.stdout)
    bad_status = re.search(r"Non-2xx or 3xx responses: (\d+)", out.stdout)
    return {"value": float(rate.group(1)),
            "errors": sum(int(n) for n in errors.groups()) if errors else 0,
            "error_detail": errors.group(0) if errors else "",
            "bad_status": int(bad_status.group(1)) if bad_status else 0}


def iperf3(target, seconds, reverse=False):
    """Gbit/s received over one TCP stream: client to server, or (reverse) server to client."""
    try:
        out = subprocess.run(["iperf3", "-c", target, "-t", str(seconds), "-J", "--connect-timeout", "3000"]
                             + (["-R"] if reverse else []), capture_output=True, text=True, timeout=seconds + 30)
    except subprocess.TimeoutExpired:
        return {"value": None, "error": f"iperf3 did not finish within {seconds + 30} s"}
    try:
        result = json.loads(out.stdout)
    except ValueError:
        return {"value": None, "error": (out.stderr or out.stdout).strip()[-300:]}
    if "error" in result:
        return {"value": None, "error": result["error"]}
    received = result["end"]["sum_received"]["bits_per_second"] / 1e9
    return {"value": received, "errors": result["end"]["sum_sent"].get("retransmits", 0),
            "error_detail": "retransmits"}


LOADS = {
    "new_connections_per_s": lambda contender, seconds: wrk(contender.web_targets(), seconds, close=True),
    "requests_per_s": lambda contender, seconds: wrk(contender.web_targets(), seconds, close=False),
    "bulk_gbit_per_s": lambda contender, seconds: iperf3(contender.bulk_target(), seconds),
    "bulk_reverse_gbit_per_s": lambda contender, seconds: iperf3(contender.bulk_target(), seconds, reverse=True),
}


def machine_ticks():
    """(busy, softirq, total) jiffies of every CPU together, from /proc/stat."""
    with open("/proc/stat") as f:
        fields = [int(v) for v in f.readline().split()[1:]]
    idle = fields[3] + fields[4]  # idle, iowait
    total = sum(fields[:8])       # up to steal; guest time is already in user
    return total - idle, fields[6], total


def process_ticks():
    """{pid: (parent, name, utime + stime)} of every process now."""
    processes = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    head, tail = f.read().rsplit(")", 1)
                fields = tail.split()
                processes[int(entry)] = (int(fields[1]), head.split("(", 1)[1], int(fields[11]) + int(fields[12]))
            except (OSError, IndexError, ValueError):
                pass
    return processes


def descendants(processes, pids):
    """pids and every process below them (nginx's and HAProxy's workers)."""
    wanted = set(pids)
    grew = True
    while grew:
        grew = False
        for pid, (parent, _, _) in processes.items():
            if parent in wanted and pid not in wanted:
                wanted.add(pid)
                grew = True
    return wanted


class CpuMeter:
    """CPU used between start() and stop(), in cores: the balancer's processes (None for
    the kernel, whose forwarding runs in softirq on whichever CPU), the load generator
    (wrk or iperf3's client), softirq time, the busiest programs still running by name
    (the servers, the balancer), and the whole machine's busy fraction. Says what limited a
    figure: a saturated machine, or one busy part."""

    def __init__(self, pids):
        self.pids = pids

    def start(self):
        self.children = resource.getrusage(resource.RUSAGE_CHILDREN)
        self.before = process_ticks()
        self.machine = machine_ticks()

    def stop(self, wall_seconds):
        after = process_ticks()
        busy, softirq, total = machine_ticks()
        cores = lambda ticks: round(ticks / TICKS / wall_seconds, 2)  # noqa: E731
        spent = {pid: ticks - (self.before[pid][2] if pid in self.before else 0)
                 for pid, (_, _, ticks) in after.items()}
        by_name = {}
        for pid, ticks in spent.items():
            by_name[after[pid][1]] = by_name.get(after[pid][1], 0) + ticks
        top = sorted(by_name.items(), key=lambda item: -item[1])[:4]
        balancer = None
        if self.pids:
            balancer = cores(sum(spent[pid] for pid in descendants(after, self.pids) if pid in spent))
        # The load generator has exited by now: its CPU is in this process's children's.
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        client = (children.ru_utime + children.ru_stime - self.children.ru_utime - self.children.ru_stime)
        return {"balancer_cores": balancer,
                "client_cores": round(client / wall_seconds, 2),
                "softirq_cores": cores(softirq - self.machine[1]),
                "busiest": {name: cores(ticks) for name, ticks in top},
                "machine_busy": round((busy - self.machine[0]) / max(1, total - self.machine[2]), 2)}


def others_busy(seconds, pids):
    """The machine's busy fraction over the next `seconds`, less what the processes in pids
    (and below them) used: a busy-polling balancer is never quiet, the rest should be."""
    def sample():
        processes = process_ticks()
        mine = sum(processes[pid][2] for pid in descendants(processes, pids) if pid in processes)
        busy, _, total = machine_ticks()
        return busy - mine, total
    busy, total = sample()
    time.sleep(seconds)
    busy2, total2 = sample()
    return (busy2 - busy) / max(1, total2 - total)
