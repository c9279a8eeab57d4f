"""A small imitation of Microsoft's download site on 127.0.0.1, with faults on demand.

It speaks HTTPS (egress downloads over nothing else) with a certificate from the session's trustme CA, the one
the ARM double uses; `plain_http=True` serves plain HTTP, to test that egress refuses it.
"""

from __future__ import annotations

import socket
import ssl
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import trustme

PUBLIC_FOLDER = "/download/7/1/D/71D86715-5596-4529-9B13-DA13A5DE5B63/"
DETAILS_PATH = "/en-us/download/details.aspx"


@dataclass
class Reply:
    status: int = 200
    body: bytes = b""
    content_type: str = "application/json"
    delay: float = 0.0  # sleep before answering (a stall)
    stall_after: int | None = None  # send this many body bytes, then hang
    content_length: int | None = None  # announce another length (a truncated transfer)
    send_length: bool = True  # False: no Content-Length, body ends when the connection closes
    headers: dict[str, str] = field(default_factory=dict)  # extra headers (e.g. a redirect's Location)


class FakeSite:
    def __init__(self, ca: trustme.CA | None = None, *, plain_http: bool = False) -> None:
        self._tls: ssl.SSLContext | None = None
        if not plain_http:
            import trustme

            cert = (ca or trustme.CA()).issue_cert("127.0.0.1", "localhost")
            self._tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            cert.configure_cert(self._tls)
        self.routes: dict[str, Reply] = {}
        self.requests: list[str] = []
        self.headers: list[dict[str, str]] = []
        self._release = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"{'https' if self._tls else 'http'}://{host}:{port}"

    def route(self, path: str, reply: Reply) -> None:
        """`path` may carry a query (`/en-us/download/details.aspx?id=56519`)."""
        self.routes[path] = reply

    def details_page(self, links: list[str], details_id: int = 56519, extra: str = "") -> str:
        """A details page like Microsoft's, linking to `links` (paths on this site); returns its URL."""
        anchors = "".join(f'<a href="{self.base_url}{p}" class="mscom-link">Download</a>\n' for p in links)
        html = (
            "<!DOCTYPE html><html><head><title>Azure IP Ranges and Service Tags</title></head><body>"
            f"{extra}{anchors}</body></html>"
        )
        path = f"{DETAILS_PATH}?id={details_id}"
        self.route(path, Reply(body=html.encode(), content_type="text/html; charset=utf-8"))
        return self.base_url + path

    def start(self) -> None:
        site = self

        class Handler(BaseHTTPRequestHandler):
            def setup(self) -> None:
                if isinstance(self.request, ssl.SSLSocket):
                    self.request.settimeout(30)
                    self.request.do_handshake()
                super().setup()

            def do_GET(self) -> None:
                site.requests.append(self.path)
                site.headers.append(dict(self.headers.items()))
                reply = site.routes.get(self.path) or site.routes.get(self.path.split("?", 1)[0])
                if reply is None:
                    reply = Reply(
                        status=404, body=b"<html><body>Not found</body></html>", content_type="text/html"
                    )
                if reply.delay and site._release.wait(reply.delay):
                    return
                try:
                    self.send_response(reply.status)
                    self.send_header("Content-Type", reply.content_type)
                    for name, value in reply.headers.items():
                        self.send_header(name, value)
                    if reply.send_length:
                        length = reply.content_length if reply.content_length is not None else len(reply.body)
                        self.send_header("Content-Length", str(length))
                    self.end_headers()
                    if reply.stall_after is not None:
                        self.wfile.write(reply.body[: reply.stall_after])
                        self.wfile.flush()
                        site._release.wait(30)
                        return
                    self.wfile.write(reply.body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (size cap, timeout): that is the point of the test

            def log_message(self, format: str, *args: object) -> None:
                pass

        tls = self._tls

        class Server(ThreadingHTTPServer):
            daemon_threads = True
            block_on_close = False  # stalled handlers must not hold up teardown

            def get_request(self) -> tuple[socket.socket, object]:
                sock, addr = super().get_request()
                if tls is None:
                    return sock, addr
                # The handshake runs in the handler's thread, so a stalled client cannot block accept().
                return tls.wrap_socket(sock, server_side=True, do_handshake_on_connect=False), addr

            def handle_error(self, request: object, client_address: object) -> None:
                pass  # clients that hang up or fail the handshake are part of the tests

        self._server = Server(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self._release.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
