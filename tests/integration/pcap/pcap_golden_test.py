#!/usr/bin/python3
"""Golden pcap tests: each fixture set (tests/fixtures/pcap, built by make_pcaps.py) is
fed to the real eclb-dataplane through a net_pcap port; the frames it transmits are
compared byte for byte with the expected file, and its drop counters with the expected
reasons. Usage: pcap_golden_test.py BUILD_DIR"""
import json
import os
import signal
import subprocess
import sys
import tempfile
import time

from scapy.all import rdpcap, hexdump, wrpcap, Ether

BUILD = os.path.abspath(sys.argv[1])
SOURCE = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
FIXTURES = os.path.join(SOURCE, "tests", "fixtures", "pcap")
CONFIG = os.path.join(FIXTURES, "golden.yaml")
CONTROL = os.path.join(BUILD, "control", "daemon", "eclb-control")
DATAPLANE = os.path.join(BUILD, "dataplane", "eclb-dataplane")
ECLBCTL = os.path.join(BUILD, "control", "cli", "eclbctl")

results = []


def report(name, ok, detail=""):
    results.append(ok)
    print(f"{'PASS' if ok else 'FAIL'}: {name}{': ' + detail if detail else ''}", flush=True)


def stats(work):
    out = subprocess.run([ECLBCTL, "--stats", f"{work}/stats", "--segment", f"{work}/tables", "stats", "--json"],
                         capture_output=True, text=True)
    return json.loads(out.stdout) if out.returncode == 0 else None


def run_dataplane(work, vdevs, extra, done):
    """Publishes golden.yaml's tables into `work`, runs eclb-dataplane on `vdevs` until
    done(stats) or 30 s, lets the control lcore finish, stops it; (last stats, status)."""
    subprocess.run([CONTROL, "--config", CONFIG, "--segment", f"{work}/tables", "--once"], check=True,
                   capture_output=True)
    log = open(f"{work}/dataplane.log", "w")
    dataplane = subprocess.Popen(
        [DATAPLANE, "-l", "0,1", "--no-pci", "--in-memory", "--log-level=lib.*:error",
         *[f"--vdev={vdev}" for vdev in vdevs], "--", "--config", CONFIG, "--segment", f"{work}/tables",
         "--stats-path", f"{work}/stats", "--flows-path", f"{work}/flows", *extra], stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 30
    last = None
    while time.monotonic() < deadline and dataplane.poll() is None:
        last = stats(work)
        if last and done(last["totals"]):
            break
        time.sleep(0.1)
    time.sleep(0.5)  # let the control lcore answer what it was handed
    last = stats(work) or last
    dataplane.send_signal(signal.SIGTERM)
    try:
        status = dataplane.wait(timeout=15)
    except subprocess.TimeoutExpired:
        dataplane.kill()
        status = "hung"
    log.close()
    if status != 0:
        print(open(f"{work}/dataplane.log").read())
    return last, status


def frames_of(path):
    return [bytes(p) for p in rdpcap(path)] if os.path.exists(path) and os.path.getsize(path) > 24 else []


def run_set(name, expect_tx):
    """Runs the dataplane over NAME_in.pcap; returns (frames sent, stats, exit status, frames in)."""
    source = os.path.join(FIXTURES, f"{name}_in.pcap")
    count = len(rdpcap(source))
    with tempfile.TemporaryDirectory(prefix=f"eclb-pcap-{name}-", dir="/dev/shm") as work:
        out_pcap = f"{work}/out.pcap"
        last, status = run_dataplane(work, [f"net_pcap0,rx_pcap={source},tx_pcap={out_pcap}"], [],
                                     lambda t: t["rx_packets"] >= count and t["tx_packets"] >= expect_tx)
        return frames_of(out_pcap), last, status, count


# golden.yaml's port 0 (static neighbours: no resolution traffic), plus the exception port.
EXCEPTION_PORT = ",".join(["0", "ipv4=10.0.0.2/24", "ipv6=2001:db8::2/64", "exception=1"] + [
    f"neighbour={address}@{mac}" for address, mac in (
        ("10.0.0.11", "02:00:00:00:01:11"), ("10.0.0.12", "02:00:00:00:01:12"), ("10.0.0.13", "02:00:00:00:01:13"),
        ("2001:db8::11", "02:00:00:00:01:21"), ("2001:db8::12", "02:00:00:00:01:22"),
        ("2001:db8::13", "02:00:00:00:01:23"))])


def run_exception_set():
    """exception_in.pcap on the NIC (port 0) and exception_kernel.pcap from the kernel's
    side (port 1, two queues: one per worker plus the control lcore's)."""
    source = os.path.join(FIXTURES, "exception_in.pcap")
    kernel_in = os.path.join(FIXTURES, "exception_kernel.pcap")
    count = len(rdpcap(source))
    with tempfile.TemporaryDirectory(prefix="eclb-pcap-exception-", dir="/dev/shm") as work:
        empty = f"{work}/empty.pcap"
        wrpcap(empty, [])
        nic_out, kernel_out = f"{work}/nic.pcap", [f"{work}/kernel{q}.pcap" for q in (0, 1)]
        vdevs = [f"net_pcap0,rx_pcap={source},tx_pcap={nic_out}",
                 f"net_pcap1,rx_pcap={kernel_in},rx_pcap={empty},tx_pcap={kernel_out[0]},tx_pcap={kernel_out[1]}"]
        last, status = run_dataplane(work, vdevs, ["--port", EXCEPTION_PORT],
                                     lambda t: t["rx_packets"] >= count and t["exception_packets"] >= 4)
        return frames_of(nic_out), frames_of(kernel_out[0]) + frames_of(kernel_out[1]), last, status


def compare(name, sent, expected, ordered):
    if not ordered:
        sent, expected = sorted(sent), sorted(expected)
    if sent == expected:
        report(f"{name}: {len(sent)} frames out, byte-identical to the expected file", True)
        return
    report(f"{name}: output differs", False, f"{len(sent)} frames sent, {len(expected)} expected")
    for i in range(max(len(sent), len(expected))):
        a = sent[i] if i < len(sent) else None
        b = expected[i] if i < len(expected) else None
        if a != b:
            print(f"  first difference at frame {i}:")
            print("  sent:    ", Ether(a).summary() if a else None)
            print("  expected:", Ether(b).summary() if b else None)
            if a and b:
                hexdump(a)
                hexdump(b)
            break


def main():
    for name, ordered in (("forward", True), ("fullnat", True), ("neighbour", False)):
        expected = [bytes(p) for p in rdpcap(os.path.join(FIXTURES, f"{name}_expected.pcap"))]
        sent, last, status, count = run_set(name, len(expected))
        report(f"{name}: dataplane exits cleanly", status == 0, f"status {status}")
        report(f"{name}: all {count} frames received", bool(last) and last["totals"]["rx_packets"] == count,
               f"rx {last['totals']['rx_packets'] if last else None}")
        compare(name, sent, expected, ordered)
        if last:
            drops = {k: v for k, v in last["totals"]["drops"].items() if v}
            # The two oversized frames are answered with ICMP (icmp_too_big_sent), not
            # drops; the ARP request for nobody of ours is the slow path's counted drop.
            expected_drops = {"slow_path_drop": 1} if name == "neighbour" else {}
            if name == "fullnat":
                report("fullnat: 2 sessions, 2 replies translated",
                       last["totals"]["nat_sessions"] == 2 and last["totals"]["nat_replies"] == 2,
                       f"{last['totals']['nat_sessions']} / {last['totals']['nat_replies']}")
            report(f"{name}: drops {drops}", drops == expected_drops, f"expected {expected_drops}")

    with open(os.path.join(FIXTURES, "malformed_drops.json")) as f:
        expected_drops = json.load(f)
    sent, last, status, count = run_set("malformed", 0)
    report("malformed: dataplane survives and exits cleanly", status == 0, f"status {status}")
    report("malformed: nothing is transmitted", not sent, f"{len(sent)} frames sent")
    drops = {k: v for k, v in last["totals"]["drops"].items() if v} if last else {}
    report(f"malformed: all {count} frames dropped with the expected reasons", drops == expected_drops,
           f"got {drops}, expected {expected_drops}")

    to_nic, to_kernel, last, status = run_exception_set()
    report("exception: dataplane exits cleanly", status == 0, f"status {status}")
    compare("exception: to the kernel", to_kernel,
            [bytes(p) for p in rdpcap(os.path.join(FIXTURES, "exception_to_kernel.pcap"))], False)
    compare("exception: out of the NIC (our ARP answer and the kernel's frames)", to_nic,
            [bytes(p) for p in rdpcap(os.path.join(FIXTURES, "exception_to_nic.pcap"))], False)
    drops = {k: v for k, v in last["totals"]["drops"].items() if v} if last else {}
    report(f"exception: only the malformed frame is dropped {drops}", drops == {"bad_ip_header": 1})

    passed = sum(results)
    print(f"{passed} passed, {len(results) - passed} failed")
    return 0 if passed == len(results) else 1


if __name__ == "__main__":
    sys.exit(main())
