#!/usr/bin/env bash
# Idempotent machine setup for eclb on Debian 12 (run as root): installs every Debian
# package the build, the tests and the demo need, and reserves 2 MB hugepages.
# Used by scripts/test.sh, scripts/demo.sh and CI; safe to run again.
set -euo pipefail

HUGEPAGES_2M=${ECLB_HUGEPAGES_2M:-512}

if [ "$(id -u)" -ne 0 ]; then
  echo "setup.sh: must run as root (packages and hugepages)" >&2
  exit 1
fi

# Build toolchain and libraries (every dependency() in meson.build comes from here).
BUILD_PACKAGES=(
  g++ clang llvm lld meson ninja-build pkg-config git
  libdpdk-dev dpdk dpdk-dev libbpf-dev bpftool libxdp-dev libelf-dev zlib1g-dev libpcap-dev libnuma-dev
  libcli11-dev libfmt-dev libyaml-cpp-dev nlohmann-json3-dev libssl-dev libxxhash-dev libhttp-parser-dev
  libsystemd-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  libclang-rt-14-dev libfuzzer-14-dev
)
# Tools the integration tests, the demo, the traffic harness and the package test run.
TEST_PACKAGES=(
  iproute2 ethtool nftables tcpdump iputils-ping curl socat procps psmisc
  python3 python3-scapy python3-websockets python3-matplotlib python3-xxhash python3-prometheus-client
  openssl nginx-light bird2
  build-essential dpkg-dev debhelper help2man lintian debootstrap systemd-container
)

missing=()
for p in "${BUILD_PACKAGES[@]}" "${TEST_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "setup: installing ${#missing[@]} packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # nginx is only run by the tests, inside their namespaces: keep its package from
  # starting a system service on port 80 (policy-rc.d 101 = "not now").
  policy=/usr/sbin/policy-rc.d
  own_policy=0
  if [ ! -e "$policy" ]; then printf '#!/bin/sh\nexit 101\n' > "$policy"; chmod +x "$policy"; own_policy=1; fi
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  [ "$own_policy" = 1 ] && rm -f "$policy"
  if command -v systemctl >/dev/null && systemctl is-enabled nginx >/dev/null 2>&1; then
    systemctl disable --now nginx >/dev/null 2>&1 || true
  fi
else
  echo "setup: all packages present"
fi

# Hugepages for DPDK. Only ever raise the reservation: another user may need more.
hp=/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages
if [ -w "$hp" ]; then
  have=$(cat "$hp")
  if [ "$have" -lt "$HUGEPAGES_2M" ]; then
    echo "$HUGEPAGES_2M" > "$hp"
    have=$(cat "$hp")
  fi
  if [ "$have" -lt 64 ]; then
    echo "setup: could reserve only $have 2 MB hugepages (need at least 64)" >&2
    exit 1
  fi
  echo "setup: $have 2 MB hugepages reserved"
else
  echo "setup: $hp is not writable; cannot reserve hugepages" >&2
  exit 1
fi
mountpoint -q /dev/hugepages || { mkdir -p /dev/hugepages; mount -t hugetlbfs -o pagesize=2M nodev /dev/hugepages; }
