"""pytest fixtures: the ARM test double, fake credentials, and a guard that keeps every test on loopback.

Fixtures:
- `arm_double`: a started `ArmDouble` (`.base_url`, `.ca_path`, `.requests`, `.seed_nsg()`, `.nsg()`,
  `.inject()`, `.on_request()`, ...), fresh per test.
- `arm_env`: `arm_double` plus the environment a CLI run needs to reach it (EGRESS_ARM_ENDPOINT,
  REQUESTS_CA_BUNDLE, NO_PROXY).
- `arm_estate`: `arm_estate(subscription, vms=N, vnets=K, admin_rules=R, protected=[...])` seeds `arm_double` with
  a VM estate (VNets and subnets, NSGs, route tables, NAT gateway, public IPs, load balancer, hub firewall and
  policies with rule collection groups, admin rules, Recovery Services protected items; tests/armdouble/
  estate.py) and returns its ids. Single resources: `arm_double.topology.seed(doc)`, `.seed_admin_rules(vnet,
  items)`, `.seed_protected_item(vm, vault)`; `arm_double.deny_subscription(sub)`; Graph's per-user quota in
  `arm_double.graph.quota`, ARM's buckets in `arm_double.limits` (`enforce = True` for 429s), time in
  `arm_double.clock`.
- `fake_credential`: a TokenCredential that hands out a fixed token and records the scopes asked for.
- `fake_az`: a stand-in `az` first on PATH, for `AzureCliCredential`; `.calls()` lists its argument vectors.
- `test_ca`: one trustme CA per session, for any local TLS double.
- `_loopback_only` (autouse): fails a test whose process connects, or resolves a name, anywhere but loopback.
  Programs started as subprocesses are not covered.
"""

from __future__ import annotations

import ipaddress
import json
import os
import socket
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import trustme

from tests.armdouble.estate import Estate, seed_estate
from tests.armdouble.server import ArmDouble

_LOCAL_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"})


def _is_loopback_host(host: object) -> bool:
    if host is None:
        return True  # getaddrinfo(None, port): a local wildcard, no lookup
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    text = str(host).strip("[]").split("%", 1)[0].lower()
    if text in _LOCAL_NAMES or text == socket.gethostname().lower():
        return True
    try:
        return ipaddress.ip_address(text).is_loopback
    except ValueError:
        return False


def _is_numeric(host: object) -> bool:
    try:
        ipaddress.ip_address(str(host).strip("[]").split("%", 1)[0])
    except ValueError:
        return False
    return True


class NetworkGuardError(OSError):
    """A test tried to reach something other than loopback."""


@pytest.fixture(autouse=True)
def _loopback_only(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Refuse, and fail the test for, any connection or name lookup beyond loopback.

    The refusal raises NetworkGuardError (an OSError) so the code under test sees an ordinary network failure;
    since code may swallow that (credential chains do), the test is also failed at teardown.
    """
    violations: list[str] = []
    real_connect = socket.socket.connect
    real_connect_ex = socket.socket.connect_ex
    real_sendto = socket.socket.sendto
    real_create_connection = socket.create_connection
    real_getaddrinfo = socket.getaddrinfo
    real_gethostbyname = socket.gethostbyname
    real_gethostbyname_ex = socket.gethostbyname_ex

    def refuse(what: str) -> None:
        violations.append(what)
        raise NetworkGuardError(f"network guard: tests may only talk to loopback, refused {what}")

    def check_address(sock: socket.socket, address: Any, verb: str) -> None:
        if sock.family not in (socket.AF_INET, socket.AF_INET6):
            return  # AF_UNIX and friends stay on this machine
        host = address[0] if isinstance(address, tuple) else address
        if not _is_loopback_host(host):
            refuse(f"{verb} {address!r}")

    def connect(self: socket.socket, address: Any) -> None:
        check_address(self, address, "connect to")
        return real_connect(self, address)

    def connect_ex(self: socket.socket, address: Any) -> int:
        check_address(self, address, "connect to")
        return real_connect_ex(self, address)

    def sendto(self: socket.socket, data: Any, *args: Any) -> int:
        check_address(self, args[-1], "send to")
        return real_sendto(self, data, *args)

    def create_connection(address: Any, *args: Any, **kwargs: Any) -> socket.socket:
        if not _is_loopback_host(address[0]):
            refuse(f"connection to {address!r}")
        return real_create_connection(address, *args, **kwargs)

    def lookup(host: Any) -> None:
        if not _is_loopback_host(host) and not _is_numeric(host):
            refuse(f"name lookup of {host!r}")

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        lookup(host)
        return real_getaddrinfo(host, *args, **kwargs)

    def gethostbyname(host: str) -> str:
        lookup(host)
        return real_gethostbyname(host)

    def gethostbyname_ex(host: str) -> Any:
        lookup(host)
        return real_gethostbyname_ex(host)

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)
    monkeypatch.setattr(socket.socket, "sendto", sendto)
    monkeypatch.setattr(socket, "create_connection", create_connection)
    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    monkeypatch.setattr(socket, "gethostbyname", gethostbyname)
    monkeypatch.setattr(socket, "gethostbyname_ex", gethostbyname_ex)
    yield violations
    if violations:
        pytest.fail(
            "network guard: the test tried to leave loopback: " + "; ".join(violations), pytrace=False
        )


@pytest.fixture(scope="session")
def test_ca() -> trustme.CA:
    """One certificate authority for every local TLS double of the session."""
    return trustme.CA()


@pytest.fixture
def arm_double(test_ca: trustme.CA) -> Iterator[ArmDouble]:
    """A started ARM double; LRO operations need one poll to finish (set `.lro_polls` to change)."""
    with ArmDouble(ca=test_ca) as double:
        yield double


@pytest.fixture
def arm_estate(arm_double: ArmDouble) -> Callable[..., Estate]:
    """Seed `arm_double` with a VM estate: `arm_estate(subscription, vms=3, vnets=1, ...)` -> its ids."""

    def seed(subscription: str, **kwargs: Any) -> Estate:
        return seed_estate(arm_double, subscription, **kwargs)

    return seed


@pytest.fixture
def arm_env(arm_double: ArmDouble, monkeypatch: pytest.MonkeyPatch) -> ArmDouble:
    """`arm_double`, with the environment pointing egress (and requests) at it."""
    monkeypatch.setenv("EGRESS_ARM_ENDPOINT", arm_double.base_url)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", arm_double.ca_path)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    for name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    return arm_double


@dataclass
class FakeCredential:
    """A TokenCredential that never leaves the process: a fixed token, valid for an hour."""

    token: str = "fake-arm-token"
    scopes: list[tuple[str, ...]] = field(default_factory=list)

    def get_token(self, *scopes: str, **kwargs: Any) -> Any:
        from azure.core.credentials import AccessToken

        self.scopes.append(scopes)
        return AccessToken(self.token, int(time.time()) + 3600)

    def close(self) -> None:
        pass


@pytest.fixture
def fake_credential() -> FakeCredential:
    return FakeCredential()


_AZ_SCRIPT = """#!{python}
# Stand-in for the Azure CLI: answers `az account get-access-token` only, and logs every call.
import json, os, sys, time
here = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(here, "calls.jsonl"), "a") as log:
    log.write(json.dumps(sys.argv[1:]) + "\\n")
fail = os.path.join(here, "fail.txt")
if os.path.exists(fail):
    sys.stderr.write(open(fail).read())
    sys.exit(1)
if sys.argv[1:3] != ["account", "get-access-token"]:
    sys.stderr.write("fake az: unsupported command\\n")
    sys.exit(2)
expires = int(time.time()) + 3600
print(json.dumps({{
    "accessToken": {token!r},
    "expiresOn": time.strftime("%Y-%m-%d %H:%M:%S.000000", time.localtime(expires)),
    "expires_on": expires,
    "subscription": "00000000-0000-0000-0000-000000000000",
    "tenant": "00000000-0000-0000-0000-000000000001",
    "tokenType": "Bearer",
}}))
"""


@dataclass
class FakeAz:
    """The stand-in `az` placed first on PATH."""

    directory: Path
    token: str

    @property
    def path(self) -> Path:
        return self.directory / "az"

    def calls(self) -> list[list[str]]:
        log = self.directory / "calls.jsonl"
        if not log.exists():
            return []
        return [json.loads(line) for line in log.read_text().splitlines() if line.strip()]

    def fail_with(self, stderr: str) -> None:
        """Make later calls exit 1 with this stderr (e.g. "Please run 'az login' to setup account.")."""
        (self.directory / "fail.txt").write_text(stderr)


@pytest.fixture
def fake_az(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakeAz:
    directory = tmp_path / "fake-az-bin"
    directory.mkdir()
    fake = FakeAz(directory, token="fake-cli-token")
    fake.path.write_text(_AZ_SCRIPT.format(python=sys.executable, token=fake.token))
    fake.path.chmod(0o755)
    monkeypatch.setenv("PATH", f"{directory}{os.pathsep}{os.environ.get('PATH', '')}")
    return fake
