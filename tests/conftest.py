"""Fixtures every test gets: an isolated cache, no route off the machine, and Microsoft's real data files.

Keep this file additive: other test packages append their own fixtures or `pytest_plugins` lines.
"""

from __future__ import annotations

import hashlib
import ipaddress
import lzma
import shutil
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest_plugins = ["tests.armdouble.plugin"]

REPO_ROOT = Path(__file__).resolve().parent.parent
# Microsoft's real files, kept in the repository: weekly ServiceTags files and the legacy XML (xz-compressed),
# REST spec examples and ARM template schemas (as published). See tests/data/microsoft/README.md.
MICROSOFT = REPO_ROOT / "tests" / "data" / "microsoft"
REFERENCE = MICROSOFT / "reference"
# Anything a test reaches by accident lands on a closed loopback port instead of Microsoft's servers.
NOWHERE = "https://127.0.0.1:9"
_PROXY_VARS = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy")


def _materialise_microsoft_data() -> Path:
    """Decompress the real data files once per content into a temp folder laid out as `data/` + `reference/`.

    Tests read plain files (some hand them to egress as `--data`); the folder's name carries a digest of the
    compressed files, so a changed fixture gets a fresh folder and a stale one is never read.
    """
    sources = sorted(MICROSOFT.glob("*/*.xz"))
    digest = hashlib.sha256()
    for source in sources:
        digest.update(source.relative_to(MICROSOFT).as_posix().encode())
        digest.update(source.read_bytes())
    root = Path(tempfile.gettempdir()) / f"egress-test-data-{digest.hexdigest()[:16]}"
    if not (root / "complete").is_file():
        staging = Path(tempfile.mkdtemp(prefix="egress-test-data-"))
        for source in sources:
            target = staging / "data" / source.parent.name / source.stem
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(lzma.decompress(source.read_bytes()))
        (staging / "reference").symlink_to(REFERENCE)
        (staging / "complete").write_text("ok\n")
        try:
            staging.rename(root)
        except OSError:  # another process finished first: use its copy
            shutil.rmtree(staging, ignore_errors=True)
    return root / "data"


SHARED_DATA = _materialise_microsoft_data()


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real Microsoft files: `servicetags/ServiceTags_*.json`, `legacy/PublicIPs_*.xml`; `../reference/` beside."""
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
def fake_site(monkeypatch: pytest.MonkeyPatch, test_ca: Any, tmp_path: Path) -> Iterator[object]:
    """A local imitation of Microsoft's download site on 127.0.0.1 (HTTPS, the session's test CA trusted through
    REQUESTS_CA_BUNDLE, as for the ARM double); egress is pointed at it."""
    from tests.support.fakesite import FakeSite

    site = FakeSite(test_ca)
    site.start()
    ca_file = tmp_path / "fake-site-ca.pem"
    test_ca.cert_pem.write_to_path(str(ca_file))
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(ca_file))
    monkeypatch.setenv("EGRESS_DOWNLOAD_BASE", site.base_url)
    monkeypatch.setenv("EGRESS_DETAILS_BASE", site.base_url)
    monkeypatch.setenv("EGRESS_HTTP_TIMEOUT", "5")
    try:
        yield site
    finally:
        site.stop()
