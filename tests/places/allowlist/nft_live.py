"""Load exported nftables sets into a throwaway network namespace and see which addresses a rule lets through.

Run as `unshare -n python nft_live.py SPEC.json`; prints JSON for test_real_tools.py. SPEC: {"port", "rules",
"steps": [{"load": FILE, "probe": [ADDRESS, ...]}, ...]}. Every probed address is put on this namespace's own
loopback, so each connection stays inside it; nothing leaves the machine.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys


def reachable(address: str, port: int) -> bool:
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.settimeout(1.0)
        try:
            sock.connect((address, port))
            return True
        except OSError:  # a dropped SYN ends in a timeout
            return False


def main() -> None:
    with open(sys.argv[1]) as handle:
        spec = json.load(handle)
    port = int(spec["port"])
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    addresses = sorted({a for step in spec["steps"] for a in step["probe"]})
    for address in addresses:
        if ":" in address:
            subprocess.run(["ip", "-6", "addr", "add", f"{address}/128", "dev", "lo", "nodad"], check=True)
        else:
            subprocess.run(["ip", "addr", "add", f"{address}/32", "dev", "lo"], check=True)
    listeners = [
        socket.create_server(("0.0.0.0", port)),
        socket.create_server(("::", port), family=socket.AF_INET6),
    ]
    steps = []
    try:
        for index, step in enumerate(spec["steps"]):
            load = subprocess.run(["nft", "-f", step["load"]], capture_output=True, text=True)
            rules = None
            if index == 0:
                rules = subprocess.run(["nft", "-f", spec["rules"]], capture_output=True, text=True)
            steps.append(
                {
                    "load_rc": load.returncode,
                    "load_err": load.stderr,
                    "rules_rc": None if rules is None else rules.returncode,
                    "rules_err": None if rules is None else rules.stderr,
                    "reachable": {a: reachable(a, port) for a in step["probe"]},
                }
            )
        listing = subprocess.run(["nft", "list", "ruleset"], capture_output=True, text=True).stdout
    finally:
        for listener in listeners:
            listener.close()
    print(json.dumps({"steps": steps, "ruleset": listing}, sort_keys=True))


if __name__ == "__main__":
    main()
