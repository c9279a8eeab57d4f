"""Load a generated nftables.conf in a throwaway network namespace and show who can reach the proxy port.

Run as `unshare -n python nft_live.py CONF PORT`; prints JSON for test_proxy_server.py to assert on. Clients:
10.1.2.3 (added to loopback) and 127.0.0.1, each connecting to 127.0.0.1:PORT before and after loading.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys

CLIENTS = ("10.1.2.3", "127.0.0.1")


def reachable(port: int, source: str) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1.0, source_address=(source, 0)):
            return True
    except OSError:  # a dropped SYN ends in a timeout
        return False


def main() -> None:
    conf, port = sys.argv[1], int(sys.argv[2])
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    subprocess.run(["ip", "addr", "add", f"{CLIENTS[0]}/32", "dev", "lo"], check=True)
    listener = socket.create_server(("0.0.0.0", port), backlog=16)
    try:
        before = {client: reachable(port, client) for client in CLIENTS}
        loads = [subprocess.run(["nft", "-f", conf], capture_output=True, text=True) for _ in range(2)]
        after = {client: reachable(port, client) for client in CLIENTS}
        listing = subprocess.run(["nft", "list", "ruleset"], capture_output=True, text=True).stdout
    finally:
        listener.close()
    print(
        json.dumps(
            {
                "before": before,
                "after": after,
                "load_rc": [load.returncode for load in loads],
                "load_err": [load.stderr for load in loads],
                "ruleset": listing,
            },
            sort_keys=True,
        )
    )


if __name__ == "__main__":
    main()
