"""Fixtures every test gets: an isolated cache, no route off the machine, and the shared real data.

Keep this file additive: other test packages append their own fixtures or `pytest_plugins` lines.
"""

from __future__ import annotations

import ipaddress
import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest_plugins = ["tests.armdouble.plugin"]

REPO_ROOT = Path(__file__).resolve().parent.parent
SHARED_ENV = "EGRESS_SHARED_DIR"
# Anything a test reaches by accident lands on a closed loopback port instead of Microsoft's servers.
NOWHERE = "http://127.0.0.1:9"
_PROXY_VARS = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy")


def find_shared_data() -> Path | None:
    """`../shared/data` next to the repository (or a worktree's ancestors), or `$EGRESS_SHARED_DIR[/data]`."""
    candidates: list[Path] = []
    env = os.environ.get(SHARED_ENV)
    if env:
        candidates += [Path(env) / "data", Path(env)]
    candidates += [parent / "shared" / "data" for parent in REPO_ROOT.parents]
    for candidate in candidates:
        if (candidate / "servicetags").is_dir():
            return candidate
    return None


SHARED_DATA = find_shared_data()
SKIP_NO_SHARED = f"the shared data folder (../shared/data, or ${SHARED_ENV}) is not present"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real Microsoft files: `servicetags/ServiceTags_*.json`, `legacy/PublicIPs_*.xml`."""
    if SHARED_DATA is None:
        pytest.skip(SKIP_NO_SHARED)
    return SHARED_DATA


def _is_loopback(host: object) -> bool:
    try:
        return ipaddress.ip_address(str(host).split("%", 1)[0]).is_loopback
    except ValueError:
        return str(host) == "localhost"


def _guarded(original):  # type: ignore[no-untyped-def]
    def connect(self: socket.socket, address: object):  # type: ignore[no-untyped-def]
        inet = self.family in (socket.AF_INET, socket.AF_INET6) and isinstance(address, tuple)
        if inet and not _is_loopback(address[0]):  # type: ignore[index]
            raise OSError(f"tests may only talk to loopback; blocked a connection to {address[0]}")
        return original(self, address)

    return connect


@pytest.fixture(autouse=True)
def _egress_isolation(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Path]:
    """No test writes the user's cache or leaves the machine."""
    cache = tmp_path / "egress-cache"
    monkeypatch.setenv("EGRESS_CACHE_DIR", str(cache))
    monkeypatch.setenv("EGRESS_DOWNLOAD_BASE", NOWHERE)
    monkeypatch.setenv("EGRESS_DETAILS_BASE", NOWHERE)
    for var in _PROXY_VARS:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost,::1")
    monkeypatch.setattr(socket.socket, "connect", _guarded(socket.socket.connect))
    monkeypatch.setattr(socket.socket, "connect_ex", _guarded(socket.socket.connect_ex))
    yield cache


@pytest.fixture
def egress_cache(_egress_isolation: Path) -> Path:
    """The (initially absent) cache folder this test's egress uses."""
    return _egress_isolation


@pytest.fixture
def fake_site(monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    """A local imitation of Microsoft's download site on 127.0.0.1; egress is pointed at it."""
    from tests.support.fakesite import FakeSite

    site = FakeSite()
    site.start()
    monkeypatch.setenv("EGRESS_DOWNLOAD_BASE", site.base_url)
    monkeypatch.setenv("EGRESS_DETAILS_BASE", site.base_url)
    monkeypatch.setenv("EGRESS_HTTP_TIMEOUT", "5")
    try:
        yield site
    finally:
        site.stop()
