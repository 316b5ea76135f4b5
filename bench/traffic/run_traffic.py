#!/usr/bin/python3
"""The traffic harness: eclb-trafficgen drives eclb-dataplane over memif with 64-byte
frames in four scenarios — (a) established TCP over 1M distinct flows, (b) a SYN flood
from random sources, (c) non-VIP junk, (d) fullnat over 1M flows with the generator
also answering as the backends (both directions through eclb) — and, in the same run
and with the same
generator and port type, dpdk-testpmd io forwarding as the ceiling of this machine.
Reports Mpps per worker core (the dataplane's own RX counter), writes a JSON result and
a PNG plot. Everything is local shared memory; nothing touches a network.

Each round measures the ceiling and then every scenario, and the rounds repeat
(--runs, default 3): the figures are medians over the rounds with their range, and each
scenario's share of the ceiling is taken against the ceiling of its own round (on this
VM the ceiling moves by a quarter between rounds). Every run also says who set the
pace: the generator offers frames in a tight loop and counts those the port refused
(its ring full); a receiver that refuses almost nothing kept up with everything
offered, so the generator, not the receiver, was the limit of that run.

Usage: run_traffic.py BUILD_DIR [--out DIR] [--seconds N] [--flows N] [--runs N]"""
import argparse
import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import time

parser = argparse.ArgumentParser()
parser.add_argument("build")
parser.add_argument("--out", default="/tmp/eclb-results")
parser.add_argument("--seconds", type=float, default=10)
parser.add_argument("--runs", type=int, default=3, help="rounds of ceiling + scenarios; medians are reported")
parser.add_argument("--flows", type=int, default=1 << 20)
parser.add_argument("--scenarios", default="established,synflood,junk,fullnat")
parser.add_argument("--no-ceiling", action="store_true", help="skip the testpmd run (quick A/B of eclb itself)")
args = parser.parse_args()
BUILD = os.path.abspath(args.build)
EAL = ["--no-pci", "--in-memory", "--log-level=lib.*:error"]
os.makedirs(args.out, exist_ok=True)
work = tempfile.mkdtemp(prefix="eclb-traffic-", dir="/dev/shm")
flows_path = f"/dev/hugepages/eclb-traffic-{os.getpid()}"


def memif(role, sock):
    # The server side (eclb-dataplane, testpmd) has the MAC eclb-trafficgen addresses:
    # eclb drops unicast to any other MAC (foreign_mac).
    mac = ",mac=02:00:00:00:00:02" if role == "server" else ""
    return f"--vdev=net_memif0,role={role},socket={sock},socket-abstract=no{mac}"


class Generator:
    """eclb-trafficgen against the memif server at `sock`. The DPDK 22.11 memif PMD unmaps
    its rings when the peer disconnects, even under a worker polling them, so the order
    is: the generator sends for `seconds` and reports, then holds the link (--hold) while
    the caller stops the server side (eclb-dataplane or testpmd); only then does it leave."""

    def __init__(self, sock, scenario, seconds):
        self.seconds = seconds
        self.err = tempfile.TemporaryFile(mode="w+")
        self.popen = subprocess.Popen([f"{BUILD}/bench/eclb-trafficgen", "-l", "0", *EAL, memif("client", sock), "--",
                                       "--scenario", scenario, "--flows", str(args.flows), "--seconds", str(seconds),
                                       "--queues", "1", "--hold", "60"],
                                      stdout=subprocess.PIPE, stderr=self.err, text=True)

    def wait_for_report(self):
        """Blocks until the generator has sent, drained and reported (the link still up)."""
        deadline = time.monotonic() + self.seconds + 60
        while time.monotonic() < deadline and self.popen.poll() is None:
            self.err.seek(0)
            if "holding the link" in self.err.read():
                return
            time.sleep(0.1)

    def finish(self):
        """After the server side stopped: the generator's per-second samples."""
        out, _ = self.popen.communicate(timeout=90)
        return [json.loads(line) for line in out.splitlines() if line.startswith("{")]


def stop(process):
    process.send_signal(signal.SIGINT)
    process.wait(timeout=20)


# Refusing more than this share of the offered frames: the receiver set the pace.
RECEIVER_LIMIT = 0.01


def pace(generated):
    """Who set the pace of a run, from the generator's per-second samples."""
    offered = steady([s.get("offered_pps", 0) for s in generated])
    sent = steady([s["sent_pps"] for s in generated])
    refused = 1 - sent / offered if offered else 0.0
    return {"generator_offered_mpps": offered / 1e6, "accepted_mpps": sent / 1e6, "refused_share": refused,
            "limited_by": "receiver" if refused > RECEIVER_LIMIT else "generator"}


def cpu_ticks():
    """(steal, total) CPU ticks of the machine so far (/proc/stat): a hypervisor that runs
    something else on our vCPUs shows as steal, which is how a slow round is told apart
    from a slow eclb."""
    with open("/proc/stat") as f:
        fields = [int(v) for v in f.readline().split()[1:9]]
    return fields[7], sum(fields)


def steal_since(start):
    steal, total = cpu_ticks()
    return (steal - start[0]) / (total - start[1]) if total > start[1] else 0.0


def steady(values, skip=3):
    values = values[skip:] if len(values) > skip + 2 else values
    return statistics.median(values) if values else 0.0


def ceiling():
    sock = f"{work}/testpmd.sock"
    subprocess.run(["rm", "-f", sock])
    testpmd = subprocess.Popen(["dpdk-testpmd", "-l", "0,1", *EAL, memif("server", sock), "--",
                                "--forward-mode=io", "--stats-period=1", "--total-num-mbufs=32768"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(3)
    start = cpu_ticks()
    generator = Generator(sock, "established", args.seconds)
    generator.wait_for_report()
    steal = steal_since(start)
    stop(testpmd)
    samples = generator.finish()
    return {"mpps": steady([s["received_pps"] for s in samples]) / 1e6, **pace(samples), "steal_share": steal}


def write_config(mode="dsr-ipip", backend_port=80):
    neighbours = ", ".join(f'{{ address: 10.0.0.{10 + i}, mac: "02:00:00:00:01:{i:02x}" }}' for i in range(1, 17))
    backends = ", ".join(f"{{ name: gw{i}, address: 10.0.0.{10 + i}, port: {backend_port} }}" for i in range(1, 17))
    with open(f"{work}/eclb.yaml", "w") as f:
        f.write(f"""tables: {{ segment: {work}/tables, max_vips: 8, max_backends: 64, max_table_slots: 1048576 }}
pools:
  gateways: {{ backends: [ {backends} ] }}
vips:
  - {{ name: web, address: 10.0.0.100, port: 80, mode: {mode}, pool: gateways }}
dataplane:
  flows_per_worker: {2 * args.flows}
  flows_path: {flows_path}
  stats_path: {work}/stats
  ports:
    - {{ id: 0, ipv4: 10.0.0.2/24, nat_ipv4: [10.0.0.2, 10.0.0.3, 10.0.0.4, 10.0.0.5], neighbours: [ {neighbours} ] }}
""")


def dataplane_rates(scenario):
    sock = f"{work}/eclb.sock"
    subprocess.run(["rm", "-f", sock])
    if scenario == "fullnat":
        write_config("fullnat", 8080)
    else:
        write_config()
    subprocess.run([f"{BUILD}/control/daemon/eclb-control", "--config", f"{work}/eclb.yaml", "--once"], check=True,
                   capture_output=True)
    dataplane = subprocess.Popen([f"{BUILD}/dataplane/eclb-dataplane", "-l", "0,1", *EAL, memif("server", sock), "--",
                                  "--config", f"{work}/eclb.yaml"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(3)
    polled = []
    import threading
    done = threading.Event()

    def poll():
        while not done.is_set():
            out = subprocess.run([f"{BUILD}/control/cli/eclbctl", "--stats", f"{work}/stats", "--segment",
                                  f"{work}/tables", "stats", "--json"], capture_output=True, text=True)
            if out.returncode == 0:
                totals = json.loads(out.stdout)["totals"]
                polled.append((time.monotonic(), totals["rx_packets"], totals["tx_packets"], totals))
            time.sleep(1)

    thread = threading.Thread(target=poll)
    thread.start()
    start = cpu_ticks()
    generator = Generator(sock, scenario, args.seconds)
    generator.wait_for_report()
    steal = steal_since(start)
    done.set()
    thread.join()
    stop(dataplane)
    generated = generator.finish()
    subprocess.run(["rm", "-f", flows_path])
    rx = [(b[1] - a[1]) / (b[0] - a[0]) for a, b in zip(polled, polled[1:])]
    tx = [(b[2] - a[2]) / (b[0] - a[0]) for a, b in zip(polled, polled[1:])]
    last = polled[-1][3] if polled else {}
    return {"rx_mpps": steady(rx) / 1e6, "tx_mpps": steady(tx) / 1e6,
            "round_trips_mpps": steady([s.get("round_trips_pps", 0) for s in generated]) / 1e6,
            **pace(generated),
            "flow_entries": last.get("flow_entries"), "drops": {k: v for k, v in last.get("drops", {}).items() if v},
            "flow_guard_skips": last.get("flow_guard_skips"),
            "flow_evictions_established": last.get("flow_evictions_established"), "steal_share": steal}


def summary(values):
    return {"median": statistics.median(values), "min": min(values), "max": max(values)} if values else {}


def plot(result, args, png_path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    names = ["testpmd io\n(ceiling)"] + [f"eclb\n{name}" for name in result["scenarios"]]
    # rx_mpps counts every packet eclb handled; for fullnat that is both directions.
    values = [result["ceiling_mpps"].get("median", 0)] + [s["rx_mpps"]["median"] for s in result["scenarios"].values()]
    fig, ax = plt.subplots(figsize=(7, 4))
    bars = ax.bar(names, values, color=["#888888", "#1f77b4", "#d62728", "#2ca02c", "#9467bd"][:len(values)])
    for bar, value in zip(bars, values):
        ax.text(bar.get_x() + bar.get_width() / 2, value, f"{value:.2f}", ha="center", va="bottom")
    ax.set_ylabel(f"Mpps per worker core (64-byte frames), median of {args.runs}")
    ax.set_title(f"eclb-dataplane over memif, {args.flows} flows, {result['machine']['cores']} vCPU")
    fig.tight_layout()
    fig.savefig(png_path, dpi=100)


def main():
    write_config()
    workers = 1  # -l 0,1: lcore 0 runs the control loop, lcore 1 the worker
    result = {"machine": {"cpu": platform.processor() or open("/proc/cpuinfo").read().split("model name")[1].split("\n")[0].strip(": "),
                          "cores": os.cpu_count(), "kernel": platform.release()},
              "port": "net_memif (one queue per side)", "frame_bytes": 64, "workers": workers,
              "seconds_per_run": args.seconds, "flows": args.flows, "runs": args.runs, "rounds": []}
    scenarios = args.scenarios.split(",")
    for run in range(1, args.runs + 1):
        round_result = {"scenarios": {}}
        if not args.no_ceiling:
            print(f"round {run}/{args.runs}: the ceiling, dpdk-testpmd io forwarding over memif ...", flush=True)
            round_result["ceiling"] = ceiling()
            print(f"  {round_result['ceiling']['mpps']:.2f} Mpps, steal {round_result['ceiling']['steal_share']:.1%}", flush=True)
        for scenario in scenarios:
            print(f"round {run}/{args.runs}: eclb-dataplane, {scenario} ...", flush=True)
            rates = dataplane_rates(scenario)
            print(f"  {rates['rx_mpps']:.2f} Mpps, steal {rates['steal_share']:.1%}", flush=True)
            rates["mpps_per_worker"] = rates["rx_mpps"] / workers
            ceiling_mpps = round_result.get("ceiling", {}).get("mpps", 0)
            rates["share_of_ceiling"] = rates["rx_mpps"] / ceiling_mpps if ceiling_mpps else 0
            round_result["scenarios"][scenario] = rates
        result["rounds"].append(round_result)
    ceilings = [r["ceiling"]["mpps"] for r in result["rounds"] if "ceiling" in r]
    result["ceiling_mpps"] = summary(ceilings)
    result["scenarios"] = {}
    for scenario in scenarios:
        runs = [r["scenarios"][scenario] for r in result["rounds"]]
        result["scenarios"][scenario] = {
            "rx_mpps": summary([x["rx_mpps"] for x in runs]),
            "share_of_ceiling": summary([x["share_of_ceiling"] for x in runs]),
            "generator_offered_mpps": summary([x["generator_offered_mpps"] for x in runs]),
            "limited_by": [x["limited_by"] for x in runs],
            "steal_share": [x["steal_share"] for x in runs],
        }
    print(f"\n{'':<14}{'Mpps median (range)':<26}{'of ceiling':<24}pace set by; steal (per run)")
    if ceilings:
        c = result["ceiling_mpps"]
        steals = ", ".join(f"{r['ceiling']['steal_share']:.0%}" for r in result["rounds"])
        print(f"{'ceiling':<14}{c['median']:>6.2f} ({c['min']:.2f}-{c['max']:.2f}){'':<12}{'':<24}"
              f"{', '.join(r['ceiling']['limited_by'] for r in result['rounds'])}; {steals}")
    for scenario, s in result["scenarios"].items():
        rx, share = s["rx_mpps"], s["share_of_ceiling"]
        print(f"{scenario:<14}{rx['median']:>6.2f} ({rx['min']:.2f}-{rx['max']:.2f}){'':<12}"
              f"{share.get('median', 0):>5.0%} ({share.get('min', 0):.0%}-{share.get('max', 0):.0%}){'':<10}"
              f"{', '.join(s['limited_by'])}; {', '.join(f'{x:.0%}' for x in s['steal_share'])}")
    print("('generator': eclb refused under 1% of what was offered, so the generator, not eclb, set the pace)")
    stamp = time.strftime("%Y%m%d-%H%M%S")
    json_path = os.path.join(args.out, f"traffic-{stamp}.json")
    with open(json_path, "w") as f:
        json.dump(result, f, indent=2)
    png_path = os.path.join(args.out, f"traffic-{stamp}.png")
    try:
        plot(result, args, png_path)
        print(f"wrote {json_path} and {png_path}")
    except ImportError as error:  # a Python without Debian's python3-matplotlib (a pyenv shim first in PATH)
        print(f"wrote {json_path}; no chart: {error} in {sys.executable}")
    subprocess.run(["rm", "-rf", work])


if __name__ == "__main__":
    sys.exit(main())
