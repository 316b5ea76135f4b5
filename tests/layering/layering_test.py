#!/usr/bin/python3
"""The include graph runs downwards only (DESIGN.md, Layout):

    abi -> common -> config -> dataplane / control

and inside dataplane/ and control/ each folder includes only the folders below it. The
build already refuses an include of a layer a target does not depend on (each layer has
its own include root); this checks the finer rules the build cannot see, over every
`#include "..."` of the tree, and prints every violation.

Usage: layering_test.py SOURCE_DIR"""
import os
import re
import sys

ROOT = sys.argv[1]

# Folder -> the folders its files may include (besides their own and system headers).
BASE = {"abi"}
ALLOWED = {
    "abi": set(),
    "common": {"abi"},
    "config": {"abi", "common"},
    "dataplane/fastpath": {"abi", "common"},
    "dataplane/runtime": {"abi", "common", "config", "dataplane/fastpath", "bpf/include", "skeleton"},
    "dataplane": {"abi", "common", "config", "dataplane/runtime"},  # main.cpp
    "control/core": {"abi", "common", "config"},
    "control/event": {"abi", "common"},
    "control/health": {"abi", "common", "config", "control/event"},
    "control/announce": {"abi", "common", "config", "control/event"},
    "control/publish": {"abi", "common", "config", "control/core"},
    "control/l7": {"abi", "common", "config", "control/core", "control/event"},
    "control/daemon": {"abi", "common", "config", "control/core", "control/event", "control/health",
                       "control/announce", "control/publish", "control/l7"},
    "control/cli": {"abi", "common", "config", "control/core"},
    "bpf": {"bpf/include", "skeleton"},
    "bpf/include": set(),
}
SCANNED = ["abi", "common", "config", "dataplane", "control", "bpf"]


def folder_of(path):
    """The most specific folder of ALLOWED that holds `path` (relative to ROOT)."""
    parts = path.split("/")
    for depth in range(len(parts) - 1, 0, -1):
        folder = "/".join(parts[:depth])
        if folder in ALLOWED:
            return folder
    return None


def target_of(include, including_folder):
    if include.endswith(".skel.h"):
        return "skeleton"
    if "/" not in include:  # a sibling in the same folder (bpf C sources)
        return including_folder if including_folder.startswith("bpf") else None
    return folder_of(include) or include.split("/")[0]


violations = []
checked = 0
for top in SCANNED:
    for directory, _, files in os.walk(os.path.join(ROOT, top)):
        for name in files:
            if not name.endswith((".h", ".cpp", ".c")):
                continue
            path = os.path.relpath(os.path.join(directory, name), ROOT)
            folder = folder_of(path)
            if folder is None:
                violations.append(f"{path}: not in any known layer")
                continue
            with open(os.path.join(ROOT, path)) as f:
                for number, line in enumerate(f, 1):
                    match = re.match(r'\s*#\s*include\s+"([^"]+)"', line)
                    if not match:
                        continue
                    checked += 1
                    target = target_of(match.group(1), folder)
                    if target is None or target == folder:
                        continue
                    if target not in ALLOWED[folder]:
                        violations.append(f"{path}:{number}: {folder} includes {match.group(1)} ({target}): "
                                          f"that runs up or sideways")

for violation in violations:
    print(f"FAIL: {violation}")
print(f"{checked} includes checked, {len(violations)} run the wrong way")
print(f"{0 if violations else 1} passed, {1 if violations else 0} failed")
sys.exit(1 if violations else 0)
