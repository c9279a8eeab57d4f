"""Checks of typed values that Azure would otherwise refuse late (at the PUT) or that mean something else."""

from __future__ import annotations

import ipaddress

from egress.errors import UsageError

# What Azure's FAQ lists for VNet address spaces: the RFC 1918 ranges, RFC 6598 shared space and, for IPv6,
# unique local addresses; public ranges are allowed too, but a proxy VM on one is rarely what was meant.
PRIVATE_RANGES = tuple(
    ipaddress.ip_network(p)
    for p in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "fc00::/7")
)
# Addresses no VM in a VNet can hold (Azure refuses these ranges in a VNet's address space).
AZURE_RESERVED = tuple(
    ipaddress.ip_network(p)
    for p in ("224.0.0.0/4", "255.255.255.255/32", "127.0.0.0/8", "169.254.0.0/16", "168.63.129.16/32")
)
MAX_PORT = 65535


def check_prefix(flag: str, text: str) -> None:
    """An address prefix as Azure takes it: a network address, no host bits (`10.0.0.5/16` is refused)."""
    try:
        ipaddress.ip_network(text)
    except ValueError:
        try:
            network = ipaddress.ip_network(text, strict=False)
        except ValueError:
            raise UsageError(f"{flag} {text!r} is not a valid address prefix.") from None
        address = text.split("/", 1)[0]
        host = f"{address}/{network.max_prefixlen}"
        raise UsageError(
            f"{flag} {text!r} has host bits set (Azure refuses it); did you mean the network {network} "
            f"or the host {host}?"
        ) from None


def check_proxy_ip(text: str, *, allow_public: bool) -> None:
    """The proxy VM's address must be one a VNet can hold; a public one needs saying so."""
    address = ipaddress.ip_address(text)
    if address.is_unspecified or any(
        address in net for net in AZURE_RESERVED if net.version == address.version
    ):
        raise UsageError(
            f"--proxy-ip {text} is an address Azure reserves (loopback, link-local, multicast, broadcast or "
            "168.63.129.16); no VM in a VNet can hold it."
        )
    if allow_public or any(address in net for net in PRIVATE_RANGES if net.version == address.version):
        return
    raise UsageError(
        f"--proxy-ip {text} is not a private address (RFC 1918, 100.64.0.0/10 or IPv6 fc00::/7), so it is "
        "probably not the proxy VM's VNet address; if your VNet does use public ranges, add "
        "--allow-public-proxy-ip."
    )


def check_proxy_ports(ports: tuple[str, ...]) -> None:
    """`--proxy-ports`: single ports or `LOW-HIGH` ranges, as Azure's destinationPortRanges takes them."""
    if not ports:
        raise UsageError("--proxy-ports is empty: give ports such as 80,443 (default 80-443).")
    for item in ports:
        low, _, high = item.partition("-")
        ok = low.isdigit() and (not high or high.isdigit())
        if ok:
            first, last = int(low), int(high or low)
            ok = 1 <= first <= last <= MAX_PORT and item == (f"{first}-{last}" if high else str(first))
        if not ok:
            raise UsageError(f"--proxy-ports {item!r}: use ports 1-65535 or ranges LOW-HIGH, e.g. 80,443.")
    if len(set(ports)) != len(ports):
        raise UsageError(f"--proxy-ports lists a port twice: {','.join(ports)}.")


def split_ports(values: list[str]) -> tuple[str, ...]:
    """`--proxy-ports 80,443` and `--proxy-ports 80 --proxy-ports 443` both give ("80", "443")."""
    return tuple(part.strip() for value in values for part in value.split(","))


def control_characters(text: str) -> str:
    """The control characters in `text`, shown escaped (empty when there are none)."""
    found = sorted({ch for ch in text if is_control(ch)})
    return ", ".join(repr(ch)[1:-1] for ch in found)


def is_control(ch: str) -> bool:
    code = ord(ch)
    return code < 0x20 or 0x7F <= code < 0xA0
