"""Proxy-server files, checked by squid itself (parse and a live run), nft, and the PowerShell grammar."""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from egress.core.fqdns import builtin
from egress.errors import UsageError
from egress.render.header import Header
from egress.render.proxy_server import proxy_server, server_files
from tests.helpers import assert_golden, assert_pwsh_parses, require_netns, require_program

HEADER = Header(tool_version="TEST", provenance="fqdns from the test", command="egress proxy server (test)")
HERE = Path(__file__).parent


def _linux(
    port: int = 3128, allow_from: tuple[str, ...] = ("10.0.0.0/16",), cloud: str = "public"
) -> dict[str, str]:
    return server_files("linux", proxy_server(port, list(allow_from), builtin(cloud)), HEADER)


def _squid_parse(conf: Path) -> subprocess.CompletedProcess[str]:
    squid = require_program("squid")
    return subprocess.run([squid, "-k", "parse", "-f", str(conf)], capture_output=True, text=True, timeout=60)


def _problems(result: subprocess.CompletedProcess[str]) -> list[str]:
    return [
        line
        for line in (result.stdout + result.stderr).splitlines()
        if re.search(r"WARNING|ERROR|FATAL", line)
    ]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --- golden files -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("cloud", ["public", "usgov", "china"])
def test_linux_golden(cloud: str) -> None:
    files = _linux(allow_from=("10.0.0.0/16", "fd00:1::/64"), cloud=cloud)
    assert list(files) == ["squid.conf", "nftables.conf"]
    assert_golden(f"proxy/server-linux-{cloud}/squid.conf", files["squid.conf"])
    if cloud == "public":
        assert_golden("proxy/server-linux-public/nftables.conf", files["nftables.conf"])


def test_windows_golden() -> None:
    files = server_files("windows", proxy_server(3128, ["10.0.0.0/16", "10.2.0.0/24"]), HEADER)
    assert list(files) == ["firewall.ps1"]
    assert_golden("proxy/server-windows/firewall.ps1", files["firewall.ps1"])


# --- validation ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("allow", [[], ["10.0.0.5/16"], ["10.0.0.0/8 ; rm"], ["any"]])
def test_bad_client_networks_are_refused(allow: list[str]) -> None:
    with pytest.raises(UsageError):
        proxy_server(3128, allow, builtin("public"))


def test_linux_needs_host_names() -> None:
    with pytest.raises(UsageError, match="at least one allowed host name"):
        server_files("linux", proxy_server(3128, ["10.0.0.0/16"], ()), HEADER)


def test_client_networks_are_sorted_and_deduplicated() -> None:
    settings = proxy_server("3128", ["10.2.0.0/16", "fd00::/8", "10.1.0.0/16", "10.2.0.0/16"])
    assert settings.allow_from == ("10.1.0.0/16", "10.2.0.0/16", "fd00::/8")


# --- squid --------------------------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("cloud", ["public", "usgov", "china"])
def test_squid_parses_without_warnings(tmp_path: Path, cloud: str) -> None:
    conf = tmp_path / "squid.conf"
    conf.write_text(_linux(allow_from=("10.0.0.0/16", "fd00:1::/64"), cloud=cloud)["squid.conf"])
    result = _squid_parse(conf)
    assert result.returncode == 0, result.stderr
    assert _problems(result) == []
    assert "Processing: http_access deny all" in result.stderr  # squid really read the whole file


@pytest.mark.slow
def test_squid_parse_control_flags_overlapping_domains(tmp_path: Path) -> None:
    # Control for the check above: an ACL holding both `.x` and a name under it is what squid warns about,
    # which is why squid_domains() removes covered names.
    text = _linux()["squid.conf"].replace(
        "acl egress_azure dstdomain login.microsoftonline.com",
        "acl egress_azure dstdomain login.microsoftonline.com\nacl egress_azure dstdomain a.blob.core.windows.net",
    )
    conf = tmp_path / "squid.conf"
    conf.write_text(text)
    assert _problems(_squid_parse(conf)) != []


@pytest.mark.slow
def test_squid_parse_after_dedup_of_a_user_list(tmp_path: Path) -> None:
    patterns = [
        "login.microsoft.com",
        "*.login.microsoft.com",
        "a.blob.core.windows.net",
        "*.blob.core.windows.net",
    ]
    conf = tmp_path / "squid.conf"
    conf.write_text(server_files("linux", proxy_server(3128, ["10.0.0.0/8"], patterns), HEADER)["squid.conf"])
    assert _problems(_squid_parse(conf)) == []


def _run_live_squid(tmp_path: Path, allow_from: str) -> dict[str, dict[str, object]]:
    unshare = require_netns()
    require_program("squid")
    require_program("setpriv")
    port = _free_port()  # inside the namespace any port is free; this one is just a valid number
    conf = tmp_path / "squid.conf"
    conf.write_text(_linux(port=port, allow_from=(allow_from,))["squid.conf"])
    # squid drops to `nobody`, which cannot enter pytest's private tmp folders: use a world-readable one.
    with tempfile.TemporaryDirectory(prefix="egress-squid-") as work:
        Path(work).chmod(0o777)
        shared_conf = Path(work) / "generated.conf"
        shared_conf.write_text(conf.read_text())
        shared_conf.chmod(0o644)
        run = subprocess.run(
            [unshare, "-n", sys.executable, str(HERE / "squid_live.py"), str(shared_conf), work, str(port)],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert run.returncode == 0, run.stdout + run.stderr
        return json.loads(run.stdout)


@pytest.mark.slow
def test_live_squid_allows_only_azure_names_over_connect_443(tmp_path: Path) -> None:
    seen = _run_live_squid(tmp_path, "10.0.0.0/8")
    tunnel_ok = {"status": 200, "origin": {"status": 200, "marker": True}}
    assert seen["vault_from_10"] == tunnel_ok  # *.blob.core.windows.net through the tunnel to the origin
    assert seen["exact_name"] == tunnel_ok  # login.microsoftonline.com
    assert seen["wildcard_apex"] == tunnel_ok  # *.login.microsoft.com also covers login.microsoft.com
    denied = {"status": 403, "origin": None}
    assert seen["other_name"] == denied
    assert seen["suffix_trick"] == denied
    assert seen["below_exact_name"] == denied  # an exact name does not open its subdomains
    assert seen["other_port"] == denied  # CONNECT only to 443
    assert seen["plain_http"] == {"status": 403}  # no unencrypted requests
    assert seen["vault_from_127"] == denied  # 127.0.0.1 is outside --allow-from 10.0.0.0/8


@pytest.mark.slow
def test_live_squid_src_acl_follows_allow_from(tmp_path: Path) -> None:
    # Same requests, the allowed network swapped: now 127.0.0.1 gets through and 10.1.2.3 is refused.
    seen = _run_live_squid(tmp_path, "127.0.0.0/8")
    assert seen["vault_from_127"]["status"] == 200
    assert seen["vault_from_10"] == {"status": 403, "origin": None}


# --- nftables -------------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_nft_check_accepts_the_ruleset(tmp_path: Path) -> None:
    unshare = require_netns()
    nft = require_program("nft")
    conf = tmp_path / "nftables.conf"
    conf.write_text(_linux(allow_from=("10.0.0.0/16", "fd00:1::/64"))["nftables.conf"])
    result = subprocess.run([unshare, "-n", nft, "-c", "-f", str(conf)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    broken = tmp_path / "broken.conf"
    broken.write_text(conf.read_text().replace("ip saddr", "ip saddrr"))
    control = subprocess.run([unshare, "-n", nft, "-c", "-f", str(broken)], capture_output=True, text=True)
    assert control.returncode != 0


@pytest.mark.slow
def test_nft_rules_filter_the_proxy_port(tmp_path: Path) -> None:
    unshare = require_netns()
    require_program("nft")
    port = _free_port()
    conf = tmp_path / "nftables.conf"
    conf.write_text(_linux(port=port, allow_from=("10.0.0.0/8",))["nftables.conf"])
    run = subprocess.run(
        [unshare, "-n", sys.executable, str(HERE / "nft_live.py"), str(conf), str(port)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    seen = json.loads(run.stdout)
    assert seen["load_rc"] == [0, 0], seen["load_err"]  # loading twice works: the table is replaced
    assert seen["before"] == {"10.1.2.3": True, "127.0.0.1": True}
    assert seen["after"] == {"10.1.2.3": True, "127.0.0.1": False}
    assert seen["ruleset"].count(f"tcp dport {port} ip saddr 10.0.0.0/8 accept") == 1


# --- Windows ----------------------------------------------------------------------------------------------------


def test_firewall_ps1_parses_and_matches_microsoft_syntax() -> None:
    text = server_files("windows", proxy_server(3128, ["10.0.0.0/16"]), HEADER)["firewall.ps1"]
    assert_pwsh_parses(text)
    assert "$ErrorActionPreference = 'Stop'\n" in text
    assert (
        "New-NetFirewallRule -DisplayName $RuleName -Direction Inbound -Action Allow -Protocol TCP -LocalPort 3128 "
        "-RemoteAddress $RemoteAddress -Profile Any" in text
    )
    assert "$RemoteAddress = @('10.0.0.0/16')\n" in text
    assert (
        '#   netsh advfirewall firewall add rule name="egress proxy TCP 3128" dir=in action=allow protocol=TCP '
        "localport=3128 remoteip=10.0.0.0/16\n" in text
    )
