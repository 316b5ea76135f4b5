#!/usr/bin/python3
"""The tier lab (tier_topology.sh's namespaces) as objects for tier_driver.py and the
tier benchmark: the router's BIRD, the eclb hosts (BIRD, eclb-control announcing,
an af_xdp eclb-dataplane with the steering program), the router's view of the VIP.
Every process started here runs in one of the topology's namespaces, logs to the work
directory and is stopped by clean_up()."""
import json
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from harness import Eclbctl, Process, in_netns  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
VIP, PORT = "10.96.0.100", 8080
FULLNAT_VIP = "10.96.0.101"  # the same gateways behind a fullnat VIP (scenario 9)
GATEWAYS = {f"gw{i}": f"10.98.0.2{i}" for i in (1, 2, 3)}
TIER_ROUTER = "10.98.0.1"
INTERVAL_MS, RISE, FALL = 1000, 3, 2
# Set by configure().
BIN = PREFIX = work = ""
TOTAL_HOSTS = 0
processes = []


def configure(bin_dir, prefix, total_hosts):
    """Where the binaries are, the topology's namespace prefix, how many hosts it has."""
    global BIN, PREFIX, TOTAL_HOSTS, work
    BIN, PREFIX, TOTAL_HOSTS = bin_dir, prefix, total_hosts
    work = tempfile.mkdtemp(prefix="eclb-tier-", dir="/dev/shm")


def clean_up():
    """Stops every process started here, removes the work directory and flow regions."""
    for process in reversed(processes):
        process.stop()
    subprocess.run(["rm", "-rf", work] + [f"/dev/hugepages/eclb-tier-{os.getpid()}-{n}" for n in range(1, TOTAL_HOSTS + 1)])


def ns(name):
    return f"{PREFIX}{name}"


def start(name, argv, netns):
    process = Process(name, argv, work, netns=ns(netns))
    processes.append(process)
    return process


# --- the router and the gateways --------------------------------------------------------

def start_router():
    """BIRD in the router namespace, with a session for every host of the topology."""
    with open(f"{work}/router.conf", "w") as f:
        f.write(router_conf(range(1, TOTAL_HOSTS + 1)))
    start("router-bird", ["bird", "-f", "-c", f"{work}/router.conf", "-s", f"{work}/router.ctl", "-P",
                          f"{work}/router.pid"], "rtr")


def start_gateways(lifetime=900):
    """A TCP echo server (lib/gateway_server.py) in each gateway namespace."""
    for i in range(1, len(GATEWAYS) + 1):
        start(f"gw{i}", ["/usr/bin/python3", f"{HERE}/../lib/gateway_server.py", "--name", f"gw{i}", "--lifetime",
                         str(lifetime)], f"gw{i}")


def router_conf(hosts):
    sessions = "".join(f"protocol bgp lb{i} from eclb_host {{ neighbor 10.98.0.1{i} as 65001; }}\n" for i in hosts)
    return f"""router id 10.98.0.1;
protocol device {{ }}
protocol kernel {{ ipv4 {{ import none; export all; }}; merge paths on; }}
protocol bfd {{ interface "rlb" {{ min rx interval 100 ms; min tx interval 100 ms; multiplier 3; }}; }}
template bgp eclb_host {{
  local 10.98.0.1 as 65000;
  ipv4 {{ import all; export none; }};
  bfd on;
  connect delay time 1; connect retry time 2; error wait time 1, 4;
}}
{sessions}"""


def router_next_hops(vip=VIP):
    """The router's next hops for the VIP (its kernel route)."""
    out = in_netns(ns("rtr"), "ip", "-j", "route", "show", f"{vip}/32")
    try:
        routes = json.loads(out.stdout or "[]")
    except ValueError:
        return []
    hops = []
    for route in routes:
        if "nexthops" in route:
            hops += [hop["gateway"] for hop in route["nexthops"]]
        elif "gateway" in route:
            hops.append(route["gateway"])
    return sorted(hops)


# --- the eclb hosts --------------------------------------------------------------------

class Host:
    def __init__(self, n):
        self.n = n
        self.name = f"lb{n}"
        self.address = f"10.98.0.1{n}"
        self.dir = f"{work}/{self.name}"
        os.makedirs(self.dir)
        self.flows = f"/dev/hugepages/eclb-tier-{os.getpid()}-{n}"
        self.ctl = Eclbctl(f"{BIN}/control/cli/eclbctl", f"{self.dir}/tables", f"{self.dir}/stats", self.flows)
        self.ctl.base += ["--admin", f"{self.dir}/admin.sock"]
        self.bird = self.control = self.dataplane = None
        self.write_config()
        with open(f"{self.dir}/bird-vips.conf", "w"):
            pass  # BIRD reads the include at start: eclb-control fills it
        with open(f"{self.dir}/bird.conf", "w") as f:
            f.write(f"""router id {self.address};
protocol device {{ }}
include "{self.dir}/bird-vips.conf";
protocol bfd {{ interface "lbn0" {{ min rx interval 100 ms; min tx interval 100 ms; multiplier 3; }}; }}
protocol bgp router1 {{
  local {self.address} as 65001;
  neighbor 10.98.0.1 as 65000;
  ipv4 {{ import none; export where proto = "eclb_vips4"; next hop self; }};
  bfd on;
  connect delay time 1; connect retry time 2; error wait time 1, 4;
}}
""")

    def write_config(self, gateways=GATEWAYS, weight_of_gw1=1):
        backends = "\n".join(f"      - {{ name: {n}, address: {a}, port: {PORT}, weight: {weight_of_gw1 if n == 'gw1' else 1} }}"
                             for n, a in gateways.items())
        peers = ", ".join(f"{{ name: lb{i}, address: 10.98.0.1{i}:9469 }}" for i in range(1, TOTAL_HOSTS + 1)
                          if i != self.n)
        with open(f"{self.dir}/eclb.yaml", "w") as f:
            f.write(f"""tables: {{ segment: {self.dir}/tables, max_vips: 16, max_backends: 256, max_table_slots: 1048576 }}
control: {{ admin_socket: {self.dir}/admin.sock, metrics: "{self.address}:9469" }}
cluster: {{ name: {self.name}, peers: [ {peers} ], timeout_ms: 1000 }}
announce: {{ bird_socket: {self.dir}/bird.ctl, include: {self.dir}/bird-vips.conf, min_up: 1 }}
pools:
  gateways:
    health: {{ check: tcp, interval_ms: {INTERVAL_MS}, timeout_ms: 500, rise: {RISE}, fall: {FALL} }}
    backends:
{backends}
vips:
  - {{ name: watchers, address: {VIP}, port: {PORT}, mode: dsr-gue, pool: gateways }}
  - {{ name: fullnat, address: {FULLNAT_VIP}, port: {PORT}, mode: fullnat, pool: gateways }}
dataplane:
  idle_sleep_us: 200
  flows_per_worker: 16384
  flows_path: {self.flows}
  stats_path: {self.dir}/stats
  ports:
    - {{ id: 0, ipv4: 10.98.0.3{self.n}/24, gateway_ipv4: {TIER_ROUTER} }}
""")

    def start_bird(self):
        self.bird = start(f"{self.name}-bird", ["bird", "-f", "-c", f"{self.dir}/bird.conf", "-s", f"{self.dir}/bird.ctl",
                                                "-P", f"{self.dir}/bird.pid"], self.name)

    def start_control(self):
        self.control = start(f"{self.name}-control", [f"{BIN}/control/daemon/eclb-control", "--config",
                                                      f"{self.dir}/eclb.yaml"], self.name)

    def start_dataplane(self):
        vdev = (f"net_af_xdp0,iface=lbn0,start_queue=0,queue_count=1,xdp_prog={BIN}/bpf/xdp_steer.bpf.o")
        self.dataplane = start(f"{self.name}-dataplane", [
            f"{BIN}/dataplane/eclb-dataplane", "-l", "0,1", "--no-pci", "--in-memory", "--log-level=lib.*:error",
            f"--vdev={vdev}", "--", "--config", f"{self.dir}/eclb.yaml"], self.name)

    def announcements(self):
        return self.ctl.json("announcements") or {}

    def announced(self):
        return any(a["announced"] for a in self.announcements().get("addresses", []))

    def digest(self):
        out = subprocess.run(self.ctl.base + ["table", "watchers", "--digest"], capture_output=True, text=True)
        return out.stdout.strip()

    def cluster(self):
        """eclbctl cluster as run on this host (its namespace reaches the peers)."""
        started = time.monotonic()
        out = subprocess.run(["ip", "netns", "exec", ns(self.name)] + self.ctl.base + ["cluster", "--json"],
                             capture_output=True, text=True)
        took = time.monotonic() - started
        try:
            return json.loads(out.stdout), took
        except ValueError:
            return {}, took

    def metrics(self):
        """This host's /metrics, fetched from its own namespace."""
        out = in_netns(ns(self.name), "curl", "-s", "-m", "2", f"http://{self.address}:9469/metrics")
        return out.stdout

    def reload(self):
        return subprocess.run(self.ctl.base + ["reload"], capture_output=True, text=True).returncode == 0

    def stop(self):
        for process in (self.dataplane, self.control, self.bird):
            if process is not None and process.alive():
                process.stop()



def switch_port(host):
    """The switch-side name of a host's veth (its peer's interface index, in the switch)."""
    link = json.loads(in_netns(ns(host.name), "ip", "-j", "link", "show", "lbn0").stdout)[0]
    for candidate in json.loads(in_netns(ns("sw"), "ip", "-j", "link", "show").stdout):
        if candidate["ifindex"] == link["link_index"]:
            return candidate["ifname"]
    raise RuntimeError(f"no switch port for {host.name}")


def addresses(hosts):
    return sorted(h.address for h in hosts)


