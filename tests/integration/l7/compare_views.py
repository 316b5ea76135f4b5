#!/usr/bin/python3
"""Compares what agent_client.py saw of the nginx image and of eclb, row by row: every
row must be equal, except the differences eclb makes on purpose (docs/configuration.md, "Differences
from the nginx image"), where each side must show exactly its documented behaviour.
Prints PASS/FAIL per row; exits non-zero if any row failed.
Usage: compare_views.py NGINX_JSON ECLB_JSON"""
import json
import sys

# row -> (the image's answer, eclb's answer, why eclb differs)
DIFFERENCES = {
    "pin_path_unknown": (
        [[200, "/vm9/x", True, []]], [[502]],
        "an unknown /vmN/ pin is refused (502), as an unknown X-Server-Select is, instead of "
        "going to whichever gateway is next"),
    "upgrade_h2c": (
        [[200, "vm1", "h2c"]], [[200, "vm1", None]],
        "only a WebSocket upgrade is forwarded as an upgrade; any other Upgrade header is dropped"),
}


def main():
    try:
        nginx, eclb = json.loads(sys.argv[1]), json.loads(sys.argv[2])
    except ValueError as error:
        print(f"FAIL: a client run did not print its view ({error})")
        return 1
    failed = 0
    for row in sorted(set(nginx) | set(eclb)):
        seen_nginx, seen_eclb = nginx.get(row), eclb.get(row)
        if row in DIFFERENCES:
            want_nginx, want_eclb, why = DIFFERENCES[row]
            ok = seen_nginx == want_nginx and seen_eclb == want_eclb
            detail = f"documented difference: {why}"
        else:
            ok = seen_nginx is not None and seen_nginx == seen_eclb
            detail = "same as nginx"
        print(f"{'PASS' if ok else 'FAIL'}: {row}: {detail}: {json.dumps(seen_eclb)}"
              + ("" if ok else f" (nginx: {json.dumps(seen_nginx)})"))
        failed += not ok
    return 1 if failed else 0


sys.exit(main())
