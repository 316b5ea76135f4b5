#!/usr/bin/python3
"""eclb beside what its users would run instead (run by l4_bench.sh in the client
namespace): the same client, servers and bridge for every contender, in one run; rounds
alternate the contenders (each round in a rotated order, so no contender always runs
first or last), every load runs once per contender per round, and the summary gives the
median and range over rounds with the CPU each used. Writes l4-TIMESTAMP.json and .png."""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

from contenders import (BULK, SERVERS, VIP, Direct, Eclb, Haproxy, Lab, NftablesDnat, NginxStream, Process,
                        render, run, wait_for)
from loads import LOADS, CpuMeter, others_busy

parser = argparse.ArgumentParser()
parser.add_argument("--bin", required=True)
parser.add_argument("--prefix", required=True, help="the topology's namespace prefix")
parser.add_argument("--rounds", type=int, default=3)
parser.add_argument("--seconds", type=int, default=5, help="each load, each round")
parser.add_argument("--idle-sleep-us", type=int, default=20,
                    help="dataplane.idle_sleep_us of the eclb contenders run in the low-CPU mode (0: none)")
parser.add_argument("--only", default="", help="comma-separated contender names (default: all)")
parser.add_argument("--out", required=True)
args = parser.parse_args()

GATEWAYS = [f"gw{i}" for i in range(1, len(SERVERS) + 1)]
UNITS = {"new_connections_per_s": "conn/s", "requests_per_s": "req/s", "bulk_gbit_per_s": "Gbit/s",
         "bulk_reverse_gbit_per_s": "Gbit/s"}


def start_servers(lab):
    """nginx on each server, iperf3's server on the bulk one; the VIP on every server's
    loopback (with arp_ignore, so only the balancer answers for it) for the DSR modes."""
    servers = []
    for gw in GATEWAYS:
        os.makedirs(f"{lab.work}/{gw}-tmp", exist_ok=True)
        config = render("server_nginx.conf", lab.work, saved_as=f"{gw}.conf", name=gw)
        servers.append(Process(f"{gw}-nginx", ["nginx", "-e", "stderr", "-c", config], lab.work,
                               netns=lab.ns(gw)))
        run(lab.ns(gw), "ip", "addr", "add", f"{VIP}/32", "dev", "lo")
        run(lab.ns(gw), "sysctl", "-qw", "net.ipv4.conf.all.arp_ignore=1", "net.ipv4.conf.all.arp_announce=2",
            "net.ipv4.conf.lo.rp_filter=0")
    bulk_ns = lab.ns(GATEWAYS[SERVERS.index(BULK)])
    servers.append(Process("iperf3-server", ["iperf3", "-s"], lab.work, netns=bulk_ns))
    return servers


def summarise(rows, contenders):
    summary = {}
    for contender in contenders:
        for load in LOADS:
            mine = [r for r in rows if r["contender"] == contender.name and r["load"] == load]
            values = [r["value"] for r in mine if r["value"] is not None]
            cores = [r["cpu"]["balancer_cores"] for r in mine if r.get("cpu", {}).get("balancer_cores") is not None]
            busy = [r["cpu"]["machine_busy"] for r in mine if "cpu" in r]
            client = [r["cpu"]["client_cores"] for r in mine if "cpu" in r]
            summary.setdefault(contender.name, {})[load] = {
                "median": statistics.median(values) if values else None,
                "min": min(values) if values else None,
                "max": max(values) if values else None,
                "runs": len(mine), "failed_runs": len(mine) - len(values),
                "errors": sum(r.get("errors", 0) for r in mine),
                "balancer_cores": statistics.median(cores) if cores else None,
                "machine_busy": statistics.median(busy) if busy else None,
                "client_cores": statistics.median(client) if client else None,
            }
    return summary


def print_summary(summary):
    print("\nmedian (range) over rounds; CPU of the balancer and of the load generator in cores; "
          f"machine busy of its {os.cpu_count()} CPUs; errors summed over rounds (iperf3: retransmits)")
    for load in LOADS:
        print(f"\n{load} ({UNITS[load]})")
        for name, loads in summary.items():
            s = loads[load]
            if s["median"] is None:
                print(f"  {name:34s} no result ({s['failed_runs']} of {s['runs']} runs failed)")
                continue
            fmt = "{:.2f}" if load.startswith("bulk") else "{:.0f}"
            cores = "-" if s["balancer_cores"] is None else f"{s['balancer_cores']:.2f}"
            print(f"  {name:34s} {fmt.format(s['median']):>8s} ({fmt.format(s['min'])}-{fmt.format(s['max'])})"
                  f"  balancer {cores:>4s}  client {s['client_cores']:.2f}  machine {s['machine_busy']:.0%}"
                  f"  errors {s['errors']}")


def plot(summary, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    names = list(summary)
    fig, axes = plt.subplots(1, len(LOADS), figsize=(4.5 * len(LOADS), 4.5))
    for axis, load in zip(axes, LOADS):
        medians = [summary[n][load]["median"] or 0 for n in names]
        low = [m - (summary[n][load]["min"] or 0) for n, m in zip(names, medians)]
        high = [(summary[n][load]["max"] or 0) - m for n, m in zip(names, medians)]
        axis.barh(range(len(names)), medians, xerr=[low, high], color="#4878a8")
        axis.set_yticks(range(len(names)))
        axis.set_yticklabels(names if axis is axes[0] else [""] * len(names))
        axis.invert_yaxis()
        axis.set_title(f"{load} ({UNITS[load]})")
    fig.suptitle("bench/l4: median and range over rounds, same client, servers and bridge")
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def main():
    work = tempfile.mkdtemp(prefix="eclb-l4bench-", dir="/dev/shm")
    lab = Lab(args.prefix, work, args.bin, GATEWAYS)
    contenders = [Direct(lab), NftablesDnat(lab), Haproxy(lab), NginxStream(lab),
                  Eclb(lab, "fullnat"), Eclb(lab, "dsr-ipip")]
    if args.idle_sleep_us:
        contenders += [Eclb(lab, "fullnat", args.idle_sleep_us), Eclb(lab, "dsr-ipip", args.idle_sleep_us)]
    if args.only:
        wanted = args.only.split(",")
        contenders = [c for c in contenders if c.name in wanted]
    servers = start_servers(lab)
    rows = []
    try:
        time.sleep(1)
        for round_index in range(args.rounds):
            shift = round_index % len(contenders)
            for contender in contenders[shift:] + contenders[:shift]:
                try:
                    contender.start()
                    if not contender.ready():
                        raise RuntimeError(f"{contender.name}: the servers do not answer through it")
                    for load, measure in LOADS.items():
                        # Every load starts on a quiet machine (the last one's sockets and
                        # timers settled), so no figure pays for its predecessor.
                        quiet = wait_for(lambda: others_busy(0.5, contender.pids()) < 0.15, 20)
                        meter = CpuMeter(contender.pids())
                        meter.start()
                        began = time.monotonic()
                        result = measure(contender, args.seconds) if contender.alive() else {}
                        result["cpu"] = meter.stop(time.monotonic() - began)
                        if not contender.alive():
                            # A figure taken while the balancer died measures nothing.
                            result.update(value=None, error="the balancer is not running (exited during or "
                                          "before this load)")
                        result.update(contender=contender.name, load=load, round=round_index + 1,
                                      quiet_before=bool(quiet))
                        if isinstance(contender, Eclb):
                            result["drops"] = contender.drops()
                        rows.append(result)
                        shown = "failed: " + result["error"] if result["value"] is None else f"{result['value']:.2f}"
                        print(f"round {round_index + 1} {contender.name:34s} {load:22s} {shown}"
                              f"  errors {result.get('errors', 0)}  cpu {result['cpu']}"
                              + ("" if quiet else "  (the machine was not quiet before it)")
                              + (f"  drops {result['drops']}" if result.get("drops") else ""), flush=True)
                except (RuntimeError, subprocess.CalledProcessError) as error:
                    # A contender that cannot start (or a lab command that failed) costs
                    # its own figures in this round, not the whole run.
                    if isinstance(error, subprocess.CalledProcessError):
                        error = RuntimeError(f"{' '.join(error.cmd)}: {(error.stderr or '').strip()}")
                    print(f"round {round_index + 1} {contender.name}: {error}", flush=True)
                    rows += [{"contender": contender.name, "load": load, "round": round_index + 1, "value": None,
                              "error": str(error)} for load in LOADS]
                finally:
                    contender.stop()
    finally:
        for server in servers:
            server.stop()
    failed = [r for r in rows if r["value"] is None]
    if failed:
        print(f"{len(failed)} measurements failed; the processes' logs are in {work}")
    else:
        shutil.rmtree(work, ignore_errors=True)
    summary = summarise(rows, contenders)
    print_summary(summary)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    json_path = os.path.join(args.out, f"l4-{stamp}.json")
    with open(json_path, "w") as f:
        json.dump({"rounds": args.rounds, "seconds": args.seconds, "cpus": os.cpu_count(),
                   "idle_sleep_us": args.idle_sleep_us, "summary": summary, "rows": rows}, f, indent=2)
    png_path = os.path.join(args.out, f"l4-{stamp}.png")
    try:
        plot(summary, png_path)
        print(f"wrote {json_path} and {png_path}")
    except ImportError as error:  # a Python without Debian's python3-matplotlib (a pyenv shim first in PATH)
        print(f"wrote {json_path}; no chart: {error} in {sys.executable}")


if __name__ == "__main__":
    sys.exit(main())
