"""Proxy settings for the protected VMs (step 1 of the guide's proxy option), as files for Linux or Windows."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from egress.core.values import host_port, no_proxy_entry
from egress.errors import UsageError
from egress.render.header import Header
from egress.render.templates import render

# Wireserver/HostGAPlugin and IMDS must never go through the proxy (the agent calls them directly), nor loopback.
DEFAULT_NO_PROXY: tuple[str, ...] = ("168.63.129.16", "169.254.169.254", "localhost", "127.0.0.1")
WINDOWS_BYPASS: tuple[str, ...] = ("<local>", "168.63.129.16", "169.254.169.254")
AGENT_UNITS: tuple[str, ...] = ("walinuxagent.service", "waagent.service")  # Debian/Ubuntu, RHEL/SUSE
EXECUTABLE = 0o755
GUEST_OSES = ("linux", "windows")


@dataclass(frozen=True, slots=True)
class GuestProxy:
    host: str  # canonical IP
    port: int
    no_proxy: tuple[str, ...]  # defaults first, then extras in the order given, without duplicates

    @property
    def hostport(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.hostport}"


def guest_proxy(proxy: str, extra_no_proxy: Sequence[str] = ()) -> GuestProxy:
    """Validate `IP:PORT` and the extra no-proxy entries."""
    host, port = host_port(proxy)
    entries = list(DEFAULT_NO_PROXY)
    for extra in extra_no_proxy:
        entry = no_proxy_entry(extra)
        if entry not in entries:
            entries.append(entry)
    return GuestProxy(host=host, port=port, no_proxy=tuple(entries))


def _windows_bypass_entry(entry: str) -> str:
    """A no_proxy entry in WinHTTP/WinINet bypass syntax (`*` wildcards; no CIDR notation)."""
    if entry.startswith("."):
        return "*" + entry
    if "/" not in entry:
        return entry
    address, bits = entry.split("/")
    if ":" in address:
        raise UsageError(
            f"--no-proxy {entry}: Windows bypass lists cannot hold IPv6 networks; list the hosts."
        )
    length = int(bits)
    if length == 32:
        return address
    if length % 8:
        raise UsageError(
            f"--no-proxy {entry}: Windows bypass lists only take whole-octet networks (/8, /16, /24) as wildcards."
        )
    octets = address.split(".")[: length // 8]
    return ".".join([*octets, "*"])


def windows_bypass(settings: GuestProxy) -> str:
    entries = list(WINDOWS_BYPASS)
    for entry in settings.no_proxy:
        if entry in DEFAULT_NO_PROXY:
            continue  # loopback is `<local>`; the platform addresses are already listed
        bypass = _windows_bypass_entry(entry)
        if bypass not in entries:
            entries.append(bypass)
    return ";".join(entries)


def linux_files(settings: GuestProxy, header: Header) -> dict[str, str]:
    """environment, waagent.conf.snippet, http-proxy.conf (systemd drop-in) and apply-proxy.sh."""
    context = {
        "host": settings.host,
        "port": settings.port,
        "url": settings.url,
        "no_proxy": ",".join(settings.no_proxy),
    }
    hash_header = header.comment("#")
    environment = render("proxy/environment.j2", header=hash_header, **context)
    waagent = render("proxy/waagent.conf.snippet.j2", header=hash_header, **context)
    dropin = render("proxy/http-proxy.conf.j2", header=hash_header, **context)
    script = render(
        "proxy/apply-proxy.sh.j2",
        header=hash_header,
        dropin=dropin,
        units=AGENT_UNITS,
        **context,
    )
    return {
        "environment": environment,
        "waagent.conf.snippet": waagent,
        "http-proxy.conf": dropin,
        "apply-proxy.sh": script,
    }


def windows_files(settings: GuestProxy, header: Header) -> dict[str, str]:
    """set-proxy.ps1: WinHTTP (services) and the guide's copy of WinINet settings to Local System."""
    hostport = settings.hostport
    script = render(
        "proxy/set-proxy.ps1.j2",
        header=header.comment("ps"),
        proxy_server=f"http={hostport};https={hostport}",
        accepted_user_servers=[hostport, f"http={hostport};https={hostport}"],
        bypass=windows_bypass(settings),
        hostport=hostport,
    )
    return {"set-proxy.ps1": script}


def guest_files(os_name: str, settings: GuestProxy, header: Header) -> dict[str, str]:
    if os_name == "linux":
        return linux_files(settings, header)
    if os_name == "windows":
        return windows_files(settings, header)
    raise UsageError(f"unknown --os {os_name!r}: use linux or windows.")


def guest_modes(files: dict[str, str]) -> dict[str, int]:
    """File modes for write_bundle: scripts meant to be run directly are executable."""
    return {name: EXECUTABLE for name in files if name.endswith(".sh")}
