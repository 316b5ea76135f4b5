#!/usr/bin/python3
"""docs/grafana/eclb-dashboard.json stays true to the exporter: every metric a panel
queries is a family eclb-control exports (control/daemon/metrics_exporter.cpp, the L7
counters from control/l7/l7_counters.h), and the JSON loads. Usage: dashboard_test.py SOURCE_DIR"""
import json
import re
import sys

root = sys.argv[1]
with open(f"{root}/docs/grafana/eclb-dashboard.json") as f:
    dashboard = json.load(f)
with open(f"{root}/control/daemon/metrics_exporter.cpp") as f:
    exported = set(re.findall(r'"(eclb_[a-z0-9_]+)"', f.read()))
with open(f"{root}/control/l7/l7_counters.h") as f:
    exported |= {f"eclb_l7_{name}_total" for name in re.findall(r"X\((\w+),", f.read())}
queried = set()
for panel in dashboard["panels"]:
    for target in panel["targets"]:
        queried |= set(re.findall(r"\b(eclb_[a-z0-9_]+)", target["expr"]))
unknown = sorted(queried - exported)
print(f"{len(dashboard['panels'])} panels query {len(queried)} metrics; unknown to the exporter: {unknown or 'none'}")
print(f"{'PASS' if not unknown and queried else 'FAIL'}: the dashboard queries only exported metrics")
sys.exit(1 if unknown or not queried else 0)
