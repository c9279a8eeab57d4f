"""The proxy VM's own configuration (step 2 of the guide's proxy option): squid + nftables on Linux, a firewall rule on Windows."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass

from egress.core.fqdns import squid_domains
from egress.core.values import cidr, fqdn_pattern, port
from egress.errors import UsageError
from egress.render.header import Header
from egress.render.templates import render

SERVER_OSES = ("linux", "windows")
HTTPS_PORT = 443


@dataclass(frozen=True, slots=True)
class ProxyServer:
    port: int
    allow_from: tuple[str, ...]  # canonical CIDRs, sorted, de-duplicated
    fqdns: tuple[str, ...]  # validated patterns (`*.x` or names); ignored by the Windows firewall

    @property
    def rule_name(self) -> str:
        return f"egress proxy TCP {self.port}"


def proxy_server(listen_port: int | str, allow_from: Sequence[str], fqdns: Sequence[str] = ()) -> ProxyServer:
    """Validate the server options; at least one client network is required (an empty list is never `any`)."""
    if not allow_from:
        raise UsageError("give at least one --allow-from network (the VNet or subnet of the protected VMs).")
    networks = sorted({cidr(c) for c in allow_from}, key=lambda c: (ipaddress.ip_network(c).version, c))
    patterns = tuple(fqdn_pattern(f) for f in fqdns)
    return ProxyServer(port=port(listen_port), allow_from=tuple(networks), fqdns=patterns)


def _split_families(networks: Sequence[str]) -> tuple[list[str], list[str]]:
    v4 = [n for n in networks if ipaddress.ip_network(n).version == 4]
    v6 = [n for n in networks if ipaddress.ip_network(n).version == 6]
    return v4, v6


def linux_files(server: ProxyServer, header: Header) -> dict[str, str]:
    """squid.conf (clients from allow_from, CONNECT to 443 of the listed domains only) and nftables.conf."""
    if not server.fqdns:
        raise UsageError("the proxy needs at least one allowed host name: use --fqdns backup or a file.")
    v4, v6 = _split_families(server.allow_from)
    hash_header = header.comment("#")
    squid = render(
        "proxy/squid.conf.j2",
        header=hash_header,
        port=server.port,
        allow_from=server.allow_from,
        domains=squid_domains(server.fqdns),
        https_port=HTTPS_PORT,
    )
    nft = render("proxy/nftables.conf.j2", header=hash_header, port=server.port, v4=v4, v6=v6)
    return {"squid.conf": squid, "nftables.conf": nft}


def windows_files(server: ProxyServer, header: Header) -> dict[str, str]:
    """firewall.ps1: an inbound rule for the proxy port from allow_from only (netsh equivalent in a comment)."""
    script = render(
        "proxy/firewall.ps1.j2",
        header=header.comment("ps"),
        port=server.port,
        allow_from=server.allow_from,
        rule_name=server.rule_name,
    )
    return {"firewall.ps1": script}


def server_files(os_name: str, server: ProxyServer, header: Header) -> dict[str, str]:
    if os_name == "linux":
        return linux_files(server, header)
    if os_name == "windows":
        return windows_files(server, header)
    raise UsageError(f"unknown --os {os_name!r}: use linux or windows.")
