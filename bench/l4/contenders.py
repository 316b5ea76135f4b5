"""The balancers bench/l4 compares, each started and stopped in the same lab: the client,
balancer and server namespaces of tests/integration/lib/topology.sh (one bridge; the
balancer's veth is lbn0, 10.99.0.2; the VIP is 10.99.0.100). A contender says where the
client connects (`web_targets`, `bulk_target`) and which processes are the balancer
(`pids`, for their CPU time); the kernel contenders give the balancer namespace's kernel
the addresses, the eclb ones take them away and guard it (as the integration tests do)."""
import os
import shutil
import string
import subprocess
import sys
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tests", "integration", "lib"))
from harness import Eclbctl, Process, wait_for  # noqa: E402

VIP = "10.99.0.100"
LB = "10.99.0.2"
# Each balancer connects to the servers from its own address: a server's TIME_WAIT sockets
# from one contender (carrying that contender's TCP timestamps) would otherwise make the
# servers reject the next contender's SYNs by PAWS on reused ports, and stall it.
NAT = "10.99.0.3"           # eclb fullnat
SOURCES = {"nftables": "10.99.0.4", "haproxy": "10.99.0.5", "nginx": "10.99.0.6"}
SERVERS = ["10.99.0.21", "10.99.0.22", "10.99.0.23"]
BULK = SERVERS[0]  # iperf3 needs its control and data connections on one server


def render(template, work, saved_as=None, **values):
    """A conf/ template with $names filled in, written to work (as saved_as, default the
    template's name); returns its path."""
    with open(os.path.join(HERE, "conf", template)) as f:
        text = string.Template(f.read()).substitute(
            vip=VIP, lb=LB, nat=NAT, bulk=BULK, work=work, count=len(SERVERS),
            nft_source=SOURCES["nftables"], haproxy_source=SOURCES["haproxy"], nginx_source=SOURCES["nginx"],
            haproxy_servers="\n".join(f"  server s{i} {a}:80" for i, a in enumerate(SERVERS, 1)),
            nginx_servers="\n".join(f"    server {a}:80;" for a in SERVERS),
            nft_map=", ".join(f"{i} : {a}" for i, a in enumerate(SERVERS)),
            eclb_servers="\n".join(f"      - {{ name: s{i}, address: {a}, port: 80 }}"
                                   for i, a in enumerate(SERVERS, 1)),
            **values)
    path = os.path.join(work, saved_as or template)
    with open(path, "w") as f:
        f.write(text)
    return path


def run(netns, *command):
    subprocess.run(["ip", "netns", "exec", netns, *command], check=True, capture_output=True, text=True)


def answers(url, timeout=2):
    """Whether an HTTP GET of url is answered "ok" (from inside the client namespace,
    where this script runs)."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.read() == b"ok\n"
    except OSError:
        return False


class Lab:
    def __init__(self, prefix, work, bin_dir, gateways):
        self.prefix = prefix
        self.work = work
        self.bin = bin_dir
        self.gateways = gateways
        self.lb = prefix + "lb"

    def ns(self, name):
        return self.prefix + name

    def kernel_balancer(self, on):
        """Gives the balancer namespace's kernel the balancer's and the VIP's addresses and
        forwarding (on), or takes them away and drops whatever reaches its stack (off)."""
        lb = self.lb
        subprocess.run(["ip", "netns", "exec", lb, "nft", "delete", "table", "netdev", "lbguard"],
                       capture_output=True)
        run(lb, "ip", "addr", "flush", "dev", "lbn0")
        if on:
            run(lb, "sysctl", "-qw", "net.ipv4.ip_forward=1", "net.ipv4.conf.all.send_redirects=0",
                "net.ipv4.conf.default.send_redirects=0", "net.ipv4.conf.lbn0.send_redirects=0")
            run(lb, "ip", "addr", "add", f"{LB}/24", "dev", "lbn0")
            for address in [VIP] + list(SOURCES.values()):
                run(lb, "ip", "addr", "add", f"{address}/32", "dev", "lbn0")
        else:
            run(lb, "sysctl", "-qw", "net.ipv4.ip_forward=0")
            run(lb, "nft", "add", "table", "netdev", "lbguard")
            run(lb, "nft", "add", "chain", "netdev", "lbguard", "ingress",
                "{ type filter hook ingress device lbn0 priority 0; policy drop; }")
        # The client and the servers learn the balancer's MAC again (it is lbn0's in every case).
        for name in ["cli"] + self.gateways:
            subprocess.run(["ip", "netns", "exec", self.ns(name), "ip", "neigh", "flush", "all"],
                           capture_output=True)


class Contender:
    name = ""
    balancer = True  # False: the client reaches the servers directly

    def __init__(self, lab):
        self.lab = lab
        self.processes = []

    def web_targets(self):
        return [VIP] * len(SERVERS)

    def bulk_target(self):
        return VIP

    def pids(self):
        return [p.popen.pid for p in self.processes]

    def alive(self):
        """Whether every process of this balancer still runs (the kernel's always does)."""
        return all(p.alive() for p in self.processes)

    def start(self):
        raise NotImplementedError

    def stop(self):
        for process in reversed(self.processes):
            process.stop()
        self.processes = []

    def ready(self):
        return wait_for(lambda: all(answers(f"http://{t}/") for t in set(self.web_targets())), 30)


class Direct(Contender):
    """No balancer: the reference. Each wrk thread connects to one server."""
    name = "direct"
    balancer = False

    def web_targets(self):
        return SERVERS

    def bulk_target(self):
        return BULK

    def start(self):
        self.lab.kernel_balancer(False)


class NftablesDnat(Contender):
    name = "nftables DNAT"

    def start(self):
        self.lab.kernel_balancer(True)
        run(self.lab.lb, "nft", "-f", render("nftables_dnat.nft", self.lab.work))

    def stop(self):
        subprocess.run(["ip", "netns", "exec", self.lab.lb, "nft", "delete", "table", "ip", "l4bench"],
                       capture_output=True)


class Haproxy(Contender):
    name = "HAProxy (mode tcp)"

    def start(self):
        self.lab.kernel_balancer(True)
        config = render("haproxy.cfg", self.lab.work)
        self.processes.append(Process("haproxy", ["haproxy", "-db", "-f", config], self.lab.work, netns=self.lab.lb))


class NginxStream(Contender):
    name = "nginx stream"

    def start(self):
        self.lab.kernel_balancer(True)
        config = render("nginx_stream.conf", self.lab.work)
        self.processes.append(Process("nginx-stream", ["nginx", "-e", "stderr", "-c", config], self.lab.work,
                                      netns=self.lab.lb))


class Eclb(Contender):
    """eclb-control and eclb-dataplane (one worker lcore) on net_af_xdp on the balancer's veth."""

    def __init__(self, lab, mode, idle_sleep_us=0):
        super().__init__(lab)
        self.mode = mode
        self.idle_sleep_us = idle_sleep_us
        self.name = f"eclb {mode}" + (f" (idle sleep {idle_sleep_us} us)" if idle_sleep_us else "")
        self.flows = f"/dev/hugepages/{lab.prefix}flows"  # l4_bench.sh removes it however the run ends

    def pids(self):
        return [self.dataplane.popen.pid]

    def start(self):
        lab = self.lab
        lab.kernel_balancer(False)
        if self.mode != "fullnat":
            for gw in lab.gateways:
                run(lab.ns(gw), f"{lab.bin}/bpf/eclb-xdp-decap", "attach", "gw0")
        shutil.rmtree(f"{lab.work}/tables", ignore_errors=True)
        for stale in (self.flows, f"{lab.work}/stats"):
            if os.path.exists(stale):
                os.unlink(stale)
        config = render("eclb.yaml", lab.work, mode=self.mode, flows=self.flows, idle_sleep_us=self.idle_sleep_us)
        self.control = Process("eclb-control", [f"{lab.bin}/control/daemon/eclb-control", "--config", config],
                               lab.work, netns=lab.lb)
        self.processes.append(self.control)
        # lcore 0 (ARP, housekeeping) on CPU 0, the one worker lcore on CPU 1.
        self.dataplane = Process("eclb-dataplane", [
            f"{lab.bin}/dataplane/eclb-dataplane", "-l", "0,1", "--no-pci", "--in-memory", "--log-level=lib.*:error",
            "--vdev=net_af_xdp0,iface=lbn0,start_queue=0,queue_count=1", "--", "--config", config],
            lab.work, netns=lab.lb)
        self.processes.append(self.dataplane)
        ctl = Eclbctl(f"{lab.bin}/control/cli/eclbctl", f"{lab.work}/tables", f"{lab.work}/stats", self.flows)
        if not wait_for(lambda: (ctl.json("stats") or {}).get("totals", {}).get("table_generation", 0) >= 1, 30):
            raise RuntimeError(f"{self.name}: eclb-dataplane does not forward:\n{self.dataplane.tail()}")
        self.ctl = ctl

    def drops(self):
        stats = self.ctl.json("stats") or {}
        return {k: v for k, v in stats.get("totals", {}).get("drops", {}).items() if v}

    def stop(self):
        super().stop()
        if self.mode != "fullnat":
            for gw in self.lab.gateways:
                subprocess.run(["ip", "netns", "exec", self.lab.ns(gw), f"{self.lab.bin}/bpf/eclb-xdp-decap",
                                "detach", "gw0"], capture_output=True)
        if os.path.exists(self.flows):
            os.unlink(self.flows)
        time.sleep(0.5)  # the PMD's XDP program leaves lbn0 with the process
