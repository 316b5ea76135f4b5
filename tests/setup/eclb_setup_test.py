#!/usr/bin/python3
"""eclb-setup against fake sysfs trees (a host's /sys as eclb-setup reads it): each
prerequisite reported missing where it is missing, with its fixing command; fixed with
--apply where that is safe (hugepages written to the tree, a real hugetlbfs mounted on a
temporary directory, the reservation persisted to a sysctl file); --strict; bad settings.
Usage: eclb_setup_test.py SOURCE_DIR (as root: it mounts hugetlbfs)."""
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration", "lib"))
from harness import Results  # noqa: E402

SETUP = os.path.join(sys.argv[1], "scripts", "eclb-setup")
results = Results()
if os.geteuid() != 0:
    results.check(False, "runs as root (it mounts hugetlbfs)")
    sys.exit(results.finish())
work = tempfile.mkdtemp(prefix="eclb-setup-test-")


def write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)


def fake_sysfs(name, hugepages=0, nic_driver="i40e", iommu=False, isolated="", nodes=1, nic_node=-1,
               node_hugepages=0):
    """A /sys with one NIC at 0000:03:00.0 and CPUs 0-3."""
    root = f"{work}/{name}"
    write(f"{root}/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages", f"{hugepages}\n")
    device = f"{root}/bus/pci/devices/0000:03:00.0"
    write(f"{device}/numa_node", f"{nic_node}\n")
    if nic_driver:
        os.makedirs(f"{root}/bus/pci/drivers/{nic_driver}", exist_ok=True)
        os.symlink(f"../../../bus/pci/drivers/{nic_driver}", f"{device}/driver")
    os.makedirs(f"{root}/kernel/iommu_groups" + ("/7" if iommu else ""), exist_ok=True)
    write(f"{root}/devices/system/cpu/isolated", isolated + "\n")
    for cpu in range(4):
        node = cpu * nodes // 4
        os.makedirs(f"{root}/devices/system/cpu/cpu{cpu}/node{node}", exist_ok=True)
    for node in range(nodes):
        cpus = [c for c in range(4) if c * nodes // 4 == node]
        write(f"{root}/devices/system/node/node{node}/cpulist", f"{cpus[0]}-{cpus[-1]}\n")
        write(f"{root}/devices/system/node/node{node}/hugepages/hugepages-2048kB/nr_hugepages", f"{node_hugepages}\n")
    return root


def run(sysfs, *extra, eal="-l 0,1,2 -a 03:00.0", hugepages=64, hugetlbfs="/dev/hugepages"):
    argv = [SETUP, "--defaults", "/nonexistent", "--sysfs", sysfs, "--eal", eal, "--hugepages", str(hugepages),
            "--hugetlbfs", hugetlbfs, "--sysctl-file", f"{work}/sysctl.conf", *extra]
    out = subprocess.run(argv, capture_output=True, text=True)
    return out.returncode, out.stdout + out.stderr


def has(output, *fragments):
    return all(f in output for f in fragments)


# A host that has nothing ready.
bare = fake_sysfs("bare")
code, out = run(bare)
print(out)
results.check(code == 1 and has(out, "MISSING  hugepages: 0 x 2 MB reserved, want 64",
                                "echo 64 > " + bare + "/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages"),
              "hugepages missing: reported with the command that reserves them")
results.check(has(out, "MISSING  IOMMU: off (vfio-pci needs it)", "_iommu=on iommu=pt' to GRUB_CMDLINE_LINUX"),
              "IOMMU off: reported with the kernel command line that turns it on (for this CPU's vendor)")
results.check(has(out, "MISSING  NIC 0000:03:00.0: driver i40e, not vfio-pci",
                  "modprobe vfio-pci && dpdk-devbind.py --bind=vfio-pci 0000:03:00.0"),
              "NIC on its kernel driver: reported with the dpdk-devbind command (short PCI address completed)")
results.check(has(out, "WARN     cores: workers 1,2 not isolated", "isolcpus=1,2 nohz_full=1,2 rcu_nocbs=1,2"),
              "worker cores not isolated: a warning with the kernel command line (the control lcore left out)")
results.check(has(out, "3 missing, 1 warnings"), "the summary counts them", out.splitlines()[-1])

# The same host with --apply: hugepages reserved in the tree and persisted; nothing else touched.
code, out = run(bare, "--apply", "--persist")
with open(f"{bare}/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages") as f:
    reserved = f.read().strip()
with open(f"{work}/sysctl.conf") as f:
    persisted = f.read()
results.check(has(out, "fixed    hugepages: 64 x 2 MB reserved") and reserved == "64" and
              "vm.nr_hugepages = 64" in persisted, "--apply --persist reserves the hugepages and keeps them for boot",
              f"reserved={reserved} sysctl={persisted!r}")
results.check(has(out, "MISSING  NIC 0000:03:00.0") and not os.path.exists(f"{bare}/bus/pci/drivers/vfio-pci"),
              "--apply never rebinds a NIC in a tree that is not /sys", out)

# hugetlbfs: missing at a mount point, then mounted for real by --apply.
mountpoint = f"{work}/hugepages"
ready = fake_sysfs("ready", hugepages=64, nic_driver="vfio-pci", iommu=True, isolated="1-2")
code, out = run(ready, hugetlbfs=mountpoint)
results.check(code == 1 and has(out, f"MISSING  hugetlbfs is not mounted at {mountpoint}",
                                f"mount -t hugetlbfs -o pagesize=2M nodev {mountpoint}"),
              "hugetlbfs not mounted: reported with the mount command")
code, out = run(ready, "--apply", hugetlbfs=mountpoint)
mounted = subprocess.run(["mountpoint", "-q", mountpoint]).returncode == 0
results.check(code == 0 and mounted and has(out, f"fixed    hugetlbfs mounted at {mountpoint}", "0 missing, 0 warnings"),
              "--apply mounts hugetlbfs; a prepared host then passes", out)
if mounted:
    subprocess.run(["umount", mountpoint])

# A prepared host, and the drivers that need no vfio.
code, out = run(ready)
results.check(code == 0 and has(out, "ok       NIC 0000:03:00.0: driver vfio-pci", "ok       IOMMU: on (1 groups)",
                                "ok       cores: workers 1,2 isolated", "0 missing, 0 warnings"),
              "a prepared host: every line ok, exit 0", out)
mlx = fake_sysfs("mlx", hugepages=64, nic_driver="mlx5_core", isolated="1-2")
code, out = run(mlx)
results.check(code == 0 and has(out, "ok       IOMMU: not needed", "ok       NIC 0000:03:00.0: driver mlx5_core"),
              "mlx5 stays on mlx5_core: no vfio, no IOMMU needed", out)
code, out = run(ready, eal="-l 0,1 -a 0000:09:00.0")
results.check(code == 1 and has(out, "MISSING  NIC 0000:09:00.0: no such PCI device"), "a NIC that is not there")

# NUMA: NIC on node 1, cores on node 0, no hugepages on node 1.
numa = fake_sysfs("numa", hugepages=64, nic_driver="vfio-pci", iommu=True, isolated="1", nodes=2, nic_node=1)
code, out = run(numa, eal="-l 0,1 -a 03:00.0")
results.check(code == 0 and has(out, "WARN     NUMA: NIC 0000:03:00.0 is on node 1, cores 0,1 are not",
                                "use cores of node 1 (2-3) in -l", "WARN     NUMA: no 2 MB hugepages on node 1"),
              "cores and hugepages on another node than the NIC: warnings that say which to use", out)
code, _ = run(numa, "--strict", eal="-l 0,1 -a 03:00.0")
results.check(code == 1, "--strict fails on warnings")
code, out = run(numa, eal="-l 2,3 -a 03:00.0")
results.check(has(out, "ok       NUMA: NIC 0000:03:00.0 and cores 2,3 on node 1"), "cores on the NIC's node: ok")

# Settings from /etc/default/eclb, and a bad one.
write(f"{work}/default", 'ECLB_DATAPLANE_EAL="-l 0,1,2 -a 03:00.0"  # cores, NIC\nECLB_HUGEPAGES=128\n')
out = subprocess.run([SETUP, "--defaults", f"{work}/default", "--sysfs", bare], capture_output=True, text=True).stdout
results.check("want 128" in out and "NIC 0000:03:00.0" in out, "settings come from the defaults file", out[:200])
write(f"{work}/bad", "ECLB_HUGEPAGES=lots\n")
bad = subprocess.run([SETUP, "--defaults", f"{work}/bad", "--sysfs", bare], capture_output=True, text=True)
results.check(bad.returncode == 2 and "ECLB_HUGEPAGES='lots' is not a number" in bad.stderr,
              "a bad setting is one clear error", bad.stderr.strip())

subprocess.run(["rm", "-rf", work])
sys.exit(results.finish())
