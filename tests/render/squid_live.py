"""Drive a real squid in a throwaway network namespace: `unshare -n python squid_live.py CONF TMP PORT`.

Not a test module: test_squid.py runs it and asserts on the JSON it prints. Inside the namespace, loopback is
ours alone, so the fake "Azure" origin can listen on 127.0.0.1:443 and a second client address (10.1.2.3) can
show the `src` ACL biting. squid runs as nobody, memory-only, everything in TMP; it is stopped on the way out
and gets SIGTERM if this driver dies first (pdeathsig); the namespace disappears with the last process.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

CLIENT_10 = "10.1.2.3"  # a second loopback address, so one squid sees clients from two networks
CLIENT_127 = "127.0.0.1"
MARKER = b"egress-origin-ok"
# Every name used below maps to 127.0.0.1 so no request depends on DNS (there is none in the namespace).
NAMES = (
    "myvault.blob.core.windows.net",
    "blob.core.windows.net",
    "login.microsoftonline.com",
    "x.login.microsoftonline.com",
    "login.microsoft.com",
    "example.com",
    "myvault.blob.core.windows.net.evil.example",
)


class Origin(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", str(len(MARKER)))
        self.end_headers()
        self.wfile.write(MARKER)

    def log_message(self, *args: object) -> None:
        pass


def _recv_head(sock: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
    return data


def _status(head: bytes) -> int:
    line = head.split(b"\r\n", 1)[0].split()
    return int(line[1]) if len(line) > 1 and line[1].isdigit() else 0


def connect(proxy_port: int, source: str, host: str, port: int) -> dict[str, object]:
    """CONNECT host:port; on 200, send a GET through the tunnel and report what the origin said."""
    with socket.create_connection(("127.0.0.1", proxy_port), timeout=10, source_address=(source, 0)) as sock:
        sock.sendall(f"CONNECT {host}:{port} HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n".encode())
        status = _status(_recv_head(sock))
        origin = None
        if status == 200:
            sock.sendall(f"GET / HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
            reply = b""
            while chunk := sock.recv(4096):
                reply += chunk
            origin = {"status": _status(reply), "marker": MARKER in reply}
        return {"status": status, "origin": origin}


def get(proxy_port: int, source: str, url: str) -> dict[str, object]:
    """A plain-HTTP proxy request (no tunnel)."""
    with socket.create_connection(("127.0.0.1", proxy_port), timeout=10, source_address=(source, 0)) as sock:
        host = url.split("/")[2]
        sock.sendall(f"GET {url} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
        return {"status": _status(_recv_head(sock))}


def _wait_listening(port: int, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(
                f"squid exited with {proc.returncode}: {log.read_text(errors='replace')[-2000:]}"
            )
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise SystemExit("squid did not start listening")


def main() -> None:
    conf_path, work = Path(sys.argv[1]), Path(sys.argv[2])
    proxy_port = int(sys.argv[3])
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    subprocess.run(["ip", "addr", "add", f"{CLIENT_10}/32", "dev", "lo"], check=True)

    origin = ThreadingHTTPServer(("127.0.0.1", 443), Origin)
    threading.Thread(target=origin.serve_forever, daemon=True).start()

    (work / "hosts").write_text("".join(f"127.0.0.1 {name}\n" for name in NAMES))
    memory_only = f"""
pid_filename {work}/squid.pid
cache_log {work}/cache.log
access_log stdio:{work}/access.log
cache_store_log none
netdb_filename none
pinger_enable off
shutdown_lifetime 0 seconds
hosts_file {work}/hosts
dns_nameservers 127.0.0.1
"""
    live = work / "squid-live.conf"
    live.write_text(conf_path.read_text() + memory_only)
    for path in (work, live, work / "hosts"):
        os.chmod(path, 0o777 if path == work else 0o644)
    squid = subprocess.Popen(
        [
            "setpriv",
            "--pdeathsig=TERM",
            "--reuid=nobody",
            "--regid=nogroup",
            "--clear-groups",
            "squid",
            "-N",
            "-f",
            str(live),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_listening(proxy_port, squid, work / "cache.log")
        results = {
            "vault_from_10": connect(proxy_port, CLIENT_10, "myvault.blob.core.windows.net", 443),
            "vault_from_127": connect(proxy_port, CLIENT_127, "myvault.blob.core.windows.net", 443),
            "exact_name": connect(proxy_port, CLIENT_10, "login.microsoftonline.com", 443),
            "wildcard_apex": connect(proxy_port, CLIENT_10, "login.microsoft.com", 443),
            "other_name": connect(proxy_port, CLIENT_10, "example.com", 443),
            "suffix_trick": connect(proxy_port, CLIENT_10, "myvault.blob.core.windows.net.evil.example", 443),
            "below_exact_name": connect(proxy_port, CLIENT_10, "x.login.microsoftonline.com", 443),
            "other_port": connect(proxy_port, CLIENT_10, "myvault.blob.core.windows.net", 8443),
            "plain_http": get(proxy_port, CLIENT_10, "http://myvault.blob.core.windows.net:443/"),
        }
    finally:
        squid.terminate()
        try:
            squid.wait(timeout=10)
        except subprocess.TimeoutExpired:
            squid.kill()
            squid.wait()
        origin.shutdown()
    print(json.dumps(results, sort_keys=True))


if __name__ == "__main__":
    main()
