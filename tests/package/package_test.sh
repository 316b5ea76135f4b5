#!/usr/bin/env bash
# The Debian package, built and installed as an operator gets it:
#   1. dpkg-buildpackage -b from a copy of the tree; lintian shows no error;
#   2. a Debian 12 root made by debootstrap (from deb.debian.org, the one place outside
#      the machine the tests may reach), the package installed into it with apt, its
#      dependencies resolved by ${shlibs:Depends};
#   3. that root booted with systemd as PID 1 (systemd-nspawn -b) inside the test's
#      network namespace "lb", with gateways and a client in namespaces of their own
#      (lib/topology.sh): package_boot_driver.py runs the units for real.
# Usage: package_test.sh SOURCE_DIR
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source_dir=$(cd "$1" && pwd)
[ "$(id -u)" -eq 0 ] || { echo "FAIL: needs root (chroot, namespaces, systemd-nspawn)"; echo "0 passed, 1 failed"; exit 1; }
export TOPO_PREFIX="eclbp$$-"
source "$here/../integration/lib/topology.sh"
MIRROR=${ECLB_DEBIAN_MIRROR:-http://deb.debian.org/debian}
work=$(mktemp -d /var/tmp/eclb-package-XXXXXX)
root=$work/root
passed=0 failed=0
check() {  # NAME CONDITION...
  local name=$1; shift
  if "$@"; then echo "PASS: $name"; passed=$((passed + 1)); else echo "FAIL: $name"; failed=$((failed + 1)); fi
}
finish() { echo "$passed passed, $failed failed"; [ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]; exit $?; }
cleanup() {
  if [ -n "${nspawn_pid:-}" ] && kill -0 "$nspawn_pid" 2>/dev/null; then
    kill "$nspawn_pid" 2>/dev/null; sleep 2; kill -9 "$nspawn_pid" 2>/dev/null
  fi
  mountpoint -q "$root/proc" 2>/dev/null && umount "$root/proc"
  topo_down
  rm -rf "$work" /dev/hugepages/eclb-package-$$
}
trap cleanup EXIT

# --- 1. Build from a copy (dpkg-buildpackage writes into the tree and its parent).
tree=$work/eclb-src
mkdir -p "$tree"
if git -C "$source_dir" rev-parse --git-dir >/dev/null 2>&1; then
  git -C "$source_dir" ls-files -co --exclude-standard | grep -v '^build-' | tar -C "$source_dir" -cf - -T - | tar -C "$tree" -xf -
else
  tar -C "$source_dir" --exclude='./build-*' --exclude=./.git -cf - . | tar -C "$tree" -xf -
fi
started=$(date +%s)
(cd "$tree" && dpkg-buildpackage -us -uc -b -j"$(nproc)") > "$work/build.log" 2>&1
built=$?
deb=$(ls "$work"/eclb_*_amd64.deb 2>/dev/null | head -1)
check "dpkg-buildpackage -b builds eclb_*.deb ($(( $(date +%s) - started )) s)" test "$built" -eq 0 -a -n "$deb"
[ -n "$deb" ] || { tail -30 "$work/build.log"; finish; }
ls "$work"/*.deb | sed 's|.*/|  built: |'
check "a -dbgsym package comes with it" ls "$work"/eclb-dbgsym_*.deb
depends=$(dpkg-deb -f "$deb" Depends)
echo "  Depends: $depends"
check "runtime Depends computed from the binaries (libdpdk, libbpf, libssl, libsystemd)" \
  bash -c "grep -q 'librte-' <<<'$depends' && grep -q 'libbpf' <<<'$depends' && grep -q 'libssl3' <<<'$depends' && grep -q 'libsystemd0' <<<'$depends'"
contents=$(dpkg-deb -c "$deb" | awk '{print $6}')
for path in ./usr/bin/eclb-control ./usr/bin/eclb-dataplane ./usr/bin/eclbctl ./usr/bin/eclb-xdp-decap \
  ./usr/sbin/eclb-setup ./usr/lib/x86_64-linux-gnu/eclb/xdp_steer.bpf.o ./lib/systemd/system/eclb.target \
  ./lib/systemd/system/eclb-control.service ./lib/systemd/system/eclb-dataplane.service \
  ./lib/systemd/system/eclb-setup.service ./usr/lib/tmpfiles.d/eclb.conf ./etc/eclb/eclb.yaml ./etc/default/eclb \
  ./usr/share/bash-completion/completions/eclbctl ./usr/share/doc/eclb/deploy.md \
  ./usr/share/doc/eclb/grafana/eclb-dashboard.json ./usr/share/man/man8/eclbctl.8.gz \
  ./usr/share/doc/eclb/examples/environment.env ./usr/share/doc/eclb/examples/fullnat.yaml; do
  grep -qxF "$path" <<<"$contents" || { echo "  missing from the package: $path"; missing_file=1; }
done
check "the package holds the binaries, BPF object, units, configs, docs and completion" test -z "${missing_file:-}"
lintian --fail-on error --suppress-tags-from-file /dev/null "$deb" > "$work/lintian.log" 2>&1
lintian_rc=$?
sed 's/^/  lintian: /' "$work/lintian.log"
check "lintian: no errors ($(grep -c '^W:' "$work/lintian.log") warnings, listed above)" test "$lintian_rc" -eq 0

# --- 2. A clean Debian 12 root, and the package installed with apt.
started=$(date +%s)
debootstrap --variant=minbase --include=systemd,systemd-sysv,dbus,iproute2,procps,passwd,ca-certificates \
  bookworm "$root" "$MIRROR" > "$work/debootstrap.log" 2>&1
check "debootstrap bookworm ($(( $(date +%s) - started )) s)" test -x "$root/bin/systemctl"
[ -x "$root/bin/systemctl" ] || { tail -20 "$work/debootstrap.log"; finish; }
mount -t proc proc "$root/proc"
cp "$deb" "$root/tmp/"
printf '#!/bin/sh\nexit 101\n' > "$root/usr/sbin/policy-rc.d"; chmod +x "$root/usr/sbin/policy-rc.d"
started=$(date +%s)
chroot "$root" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "/tmp/$(basename "$deb")" \
  > "$work/install.log" 2>&1
installed=$?
tail -3 "$work/install.log" | sed 's/^/  apt: /'
check "apt installs the package and its dependencies into the clean root ($(( $(date +%s) - started )) s)" test "$installed" -eq 0
rm -f "$root/usr/sbin/policy-rc.d"
[ "$installed" -eq 0 ] || { tail -30 "$work/install.log"; finish; }
in_root() { chroot "$root" "$@"; }
versions=$(for b in eclb-control eclb-dataplane eclbctl eclb-xdp-decap; do in_root "$b" --version; done | tr '\n' ' ')
check "every binary answers --version ($versions)" test "$versions" = "0.1.0 0.1.0 0.1.0 0.1.0 "
check "every binary answers --help" bash -c "for b in eclb-control eclb-dataplane eclbctl eclb-xdp-decap eclb-setup; do chroot '$root' \$b --help >/dev/null || exit 1; done"
check "the default config passes eclb-control --check" in_root eclb-control --check --config /etc/eclb/eclb.yaml
check "postinst created the system user and group eclb" \
  bash -c "chroot '$root' getent passwd eclb | grep -q ':/usr/sbin/nologin$' && chroot '$root' getent group eclb >/dev/null"
check "/etc/eclb is root:eclb 0750 (for TLS keys readable by eclb-control only)" \
  test "$(chroot "$root" stat -c '%U:%G %a' /etc/eclb)" = "root:eclb 750"
check "bash completion for eclbctl parses" bash -n "$root/usr/share/bash-completion/completions/eclbctl"
umount "$root/proc"

# --- 3. Boot it: systemd as PID 1, the units run for real.
topo_up
for i in 1 2 3; do
  ip netns exec "$(topo_ns gw$i)" /usr/bin/python3 "$here/../integration/lib/gateway_server.py" --name "gw$i" \
    --lifetime 600 >/dev/null 2>&1 &
done
flows=/dev/hugepages/eclb-package-$$
cat > "$root/etc/eclb/eclb.yaml" <<EOF
# written by package_test.sh: fullnat to the test's three gateways, on af_packet
tables: { segment: /dev/shm/eclb-tables }
control: { admin_socket: /run/eclb/admin.sock, admin_group: eclb, metrics: 127.0.0.1:9469 }
pools:
  gateways:
    # No health check: the lb namespace's kernel has no address (the dataplane owns lbn0),
    # so eclb-control could not reach the gateways ("Network is unreachable").
    backends:
      - { name: gw1, address: 10.99.0.21, port: 8080 }
      - { name: gw2, address: 10.99.0.22, port: 8080 }
      - { name: gw3, address: 10.99.0.23, port: 8080 }
vips:
  - { name: watchers, address: $TOPO_VIP, port: 443, mode: fullnat, pool: gateways }
dataplane:
  flows_per_worker: 65536
  flows_path: $flows
  idle_sleep_us: 200
  ports:
    - { id: 0, ipv4: $TOPO_LB_IP/24, nat_ipv4: [10.99.0.3] }
EOF
cat > "$root/etc/default/eclb" <<EOF
ECLB_DATAPLANE_EAL="-l 0,1 --no-pci --in-memory --log-level=lib.*:error --vdev=net_af_packet0,iface=lbn0"
ECLB_HUGEPAGES=0
EOF
cp "$deb" "$root/root/"  # for the upgrade inside the booted container (its /tmp is a tmpfs)
chroot "$root" useradd --create-home --groups eclb opsuser  # ("operator" is a Debian system group)
chroot "$root" useradd --create-home outsider
echo "eclb-package-test" > "$root/etc/hostname"
systemd-nspawn --boot --directory="$root" --register=no --keep-unit --console=passive \
  --network-namespace-path="/run/netns/$(topo_ns lb)" --bind=/dev/hugepages \
  --capability=CAP_NET_ADMIN,CAP_NET_RAW,CAP_SYS_ADMIN,CAP_IPC_LOCK,CAP_BPF,CAP_PERFMON,CAP_SYS_RAWIO \
  > "$work/boot.log" 2>&1 &
nspawn_pid=$!
ip netns exec "$(topo_ns cli)" /usr/bin/python3 "$here/package_boot_driver.py" --nspawn-pid "$nspawn_pid" \
  --vip "$TOPO_VIP" | tee "$work/driver.out"
driver=${PIPESTATUS[0]}
passed=$((passed + $(grep -c '^PASS:' "$work/driver.out")))
failed=$((failed + $(grep -c '^FAIL:' "$work/driver.out")))
[ "$driver" -eq 0 ] || { echo "  the container's console:"; tail -20 "$work/boot.log" | sed 's/^/  /'; }
finish
