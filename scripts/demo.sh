#!/usr/bin/env bash
# The demo: installs what is needed, builds, publishes the Maglev tables of an example
# gateway config into shared memory with eclb-control, and shows them with eclbctl.
# Run as root on Debian 12: scripts/demo.sh
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh build-release --buildtype=release -Dtests=disabled -Dbench=disabled >/dev/null
bin=build-release
segment=/dev/shm/eclb-demo-tables
work=$(mktemp -d /tmp/eclb-demo.XXXXXX)
config=$work/gateways.yaml
trap 'rm -rf "$work" "$segment" "$segment.lock"' EXIT
sed "s|segment: .*|segment: $segment|" examples/gateways.yaml > "$config"

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
step "config (examples/gateways.yaml)"
grep -v '^#' "$config"
step "eclb-control --check"
$bin/control/daemon/eclb-control --config "$config" --check
step "eclb-control --once: build Maglev tables and publish them to $segment"
$bin/control/daemon/eclb-control --config "$config" --once
step "eclbctl vips"
$bin/control/cli/eclbctl --segment "$segment" vips
step "eclbctl table watchers (slot share against weight share)"
$bin/control/cli/eclbctl --segment "$segment" table watchers
step "eclbctl table watchers --slots 0:7 (raw slots)"
$bin/control/cli/eclbctl --segment "$segment" table watchers --slots 0:7
step "vm2 leaves the pool: republish and compare"
$bin/control/cli/eclbctl --segment "$segment" table watchers --json > "$work/before.json"
sed -i '/name: vm2/d' "$config"
$bin/control/daemon/eclb-control --config "$config" --once
$bin/control/cli/eclbctl --segment "$segment" table watchers --json > "$work/after.json"
/usr/bin/python3 - "$work/before.json" "$work/after.json" <<'PY'
import json, sys
before, after = (json.load(open(x)) for x in sys.argv[1:3])
name = lambda t, i: None if i is None else t["backends"][i]["name"]
old = [name(before, i) for i in before["slots"]]
new = [name(after, i) for i in after["slots"]]
moved = sum(a != b for a, b in zip(old, new))
from_vm2 = sum(a == "vm2" for a in old)
print(f"generation {before['generation']} -> {after['generation']}: {moved} of {len(old)} slots changed owner, "
      f"{from_vm2} of them were vm2's; {moved - from_vm2} others moved ({100 * (moved - from_vm2) / len(old):.2f}%)")
PY
$bin/control/cli/eclbctl --segment "$segment" table watchers
