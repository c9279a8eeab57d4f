"""Small prefix helpers for browsing on prefix text: numeric sort, family filter, lossless merge.

The arithmetic is `egress.core.prefixes`; these wrap it for strings and turn bad data into DataError.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from egress.core import prefixes as px
from egress.errors import DataError

FAMILIES = ("ipv4", "ipv6", "all")
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_network(prefix: str) -> Network:
    """`10.0.0.0/8` -> network; host bits are tolerated (Microsoft's files never set them, hand-made ones may)."""
    try:
        return ipaddress.ip_network(prefix.strip(), strict=False)
    except ValueError:
        raise DataError(
            f"invalid address prefix {prefix!r} in the data; use an unmodified Microsoft file."
        ) from None


def _parse(prefix: str) -> px.Prefix:
    try:
        return px.parse_prefix(prefix)
    except ValueError:
        raise DataError(
            f"invalid address prefix {prefix!r} in the data; use an unmodified Microsoft file."
        ) from None


def prefix_sort_key(prefix: str) -> tuple[int, int, int]:
    """IPv4 before IPv6, then numeric address, then shorter prefix first."""
    return _parse(prefix)


def sort_prefixes(prefixes: Iterable[str]) -> list[str]:
    return sorted(set(prefixes), key=prefix_sort_key)


def normalize_prefix(prefix: str) -> str:
    """Canonical spelling (lower-case, compressed IPv6, host bits cleared) so equal networks compare equal."""
    return px.format_prefix(_parse(prefix))


def filter_family(prefixes: Iterable[str], family: str) -> list[str]:
    if family not in FAMILIES:
        raise DataError(f"unknown address family {family!r}; use one of {', '.join(FAMILIES)}.")
    if family == "ipv4":
        return [p for p in prefixes if ":" not in p]
    if family == "ipv6":
        return [p for p in prefixes if ":" in p]
    return list(prefixes)


def merge_prefixes(prefixes: Iterable[str]) -> list[str]:
    """The smallest set of CIDRs covering exactly the same addresses, sorted (IPv4 first)."""
    return [px.format_prefix(p) for p in px.aggregate(_parse(p) for p in prefixes)]
