"""Strict validators for every user value that ends up inside a generated file.

Each returns a canonical form or raises UsageError with one line saying what is wrong. They run before anything is
rendered, so a hostile string (`'; rm -rf /`, `$(id)`, a newline) never reaches a template or the disk.
"""

from __future__ import annotations

import ipaddress
import re

from egress.errors import UsageError

# fullmatch everywhere: `$` would accept a trailing newline.
_SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,79}")
_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
_DIGITS = re.compile(r"[0-9]{1,5}")
_MAX_FQDN = 253


def _show(text: object) -> str:
    """Quote a bad value for an error message without letting it break the one-line rule."""
    shown = repr(text)
    return shown if len(shown) <= 60 else shown[:57] + "...'"


def _require_str(text: object, what: str) -> str:
    if not isinstance(text, str):
        raise UsageError(f"{what} must be text, got {_show(text)}.")
    return text


def ip_address(text: str) -> str:
    """An IPv4 or IPv6 address (no zone, no brackets, no spaces), returned in canonical form."""
    text = _require_str(text, "an IP address")
    if not text or text != text.strip() or "%" in text:
        raise UsageError(f"invalid IP address {_show(text)}: give a plain address like 10.0.0.5.")
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        raise UsageError(f"invalid IP address {_show(text)}: give a plain address like 10.0.0.5.") from None


def cidr(text: str) -> str:
    """An IPv4/IPv6 network like 10.0.0.0/16 (a bare address means that one host), canonical form.

    Host bits must be zero: `10.0.0.5/16` is almost always a typo, so it is refused rather than silently widened.
    """
    text = _require_str(text, "a CIDR")
    if "/" not in text:
        address = ipaddress.ip_address(ip_address(text))
        return f"{address}/{address.max_prefixlen}"
    addr, _, bits = text.partition("/")
    ip_address(addr)
    if not _DIGITS.fullmatch(bits):
        raise UsageError(f"invalid CIDR {_show(text)}: the prefix length must be a number, e.g. 10.0.0.0/16.")
    try:
        return str(ipaddress.ip_network(text, strict=True))
    except ValueError:
        try:
            loose = ipaddress.ip_network(text, strict=False)
        except ValueError:
            raise UsageError(f"invalid CIDR {_show(text)}: the prefix length is out of range.") from None
        raise UsageError(f"invalid CIDR {_show(text)}: host bits are set; did you mean {loose}?") from None


def port(n: int | str) -> int:
    """A TCP port 1-65535 (an int or its decimal text)."""
    if isinstance(n, bool):
        raise UsageError(f"invalid port {_show(n)}: give a number from 1 to 65535.")
    if isinstance(n, str):
        if not _DIGITS.fullmatch(n):
            raise UsageError(f"invalid port {_show(n)}: give a number from 1 to 65535.")
        n = int(n)
    if not isinstance(n, int) or not 1 <= n <= 65535:
        raise UsageError(f"invalid port {_show(n)}: give a number from 1 to 65535.")
    return n


def host_port(text: str) -> tuple[str, int]:
    """`IP:PORT` (IPv6 as `[addr]:PORT`) -> (canonical IP, port). Names are refused: agents need an address."""
    text = _require_str(text, "IP:PORT")
    hint = "give IP:PORT like 10.0.0.5:3128 (no http://, no name)"
    if text.startswith("["):
        addr, sep, rest = text[1:].partition("]:")
        if not sep:
            raise UsageError(f"invalid proxy address {_show(text)}: {hint}.")
        ip = ip_address(addr)
        if ":" not in ip:
            raise UsageError(f"invalid proxy address {_show(text)}: brackets are only for IPv6.")
    else:
        addr, sep, rest = text.rpartition(":")
        if not sep or not addr:
            raise UsageError(f"invalid proxy address {_show(text)}: {hint}.")
        try:
            ip = ip_address(addr)
        except UsageError:
            raise UsageError(f"invalid proxy address {_show(text)}: {hint}.") from None
        if ":" in ip:
            raise UsageError(f"invalid proxy address {_show(text)}: write an IPv6 proxy as [addr]:PORT.")
    return ip, port(rest)


def safe_name(text: str) -> str:
    """A file or rule name: letters, digits, `.`, `_`, `-`; starts with a letter or digit; at most 80 chars."""
    text = _require_str(text, "a name")
    if not _SAFE_NAME.fullmatch(text):
        raise UsageError(
            f"invalid name {_show(text)}: use 1-80 letters, digits, '.', '_' or '-', starting with a letter or digit."
        )
    return text


def _labels(name: str, original: str) -> None:
    if len(name) > _MAX_FQDN:
        raise UsageError(f"invalid host name {_show(original)}: longer than {_MAX_FQDN} characters.")
    for label in name.split("."):
        if not _LABEL.fullmatch(label):
            raise UsageError(
                f"invalid host name {_show(original)}: each label needs letters, digits or inner '-' "
                "(e.g. myvault.blob.core.windows.net or *.blob.core.windows.net)."
            )


def fqdn_pattern(text: str) -> str:
    """A DNS name (`login.microsoftonline.com`) or a one-level wildcard (`*.blob.core.windows.net`), lower-case.

    A wildcard needs at least two labels after `*.` so nothing as wide as `*.com` can be allowed by accident.
    """
    text = _require_str(text, "a host name")
    name = text.lower()
    if not name or name != name.strip():
        raise UsageError(f"invalid host name {_show(text)}: empty or surrounded by spaces.")
    wildcard = name.startswith("*.")
    base = name[2:] if wildcard else name
    if wildcard and base.count(".") < 1:
        raise UsageError(
            f"invalid host name {_show(text)}: a wildcard must name a domain, like *.example.com."
        )
    if "." not in base:
        raise UsageError(
            f"invalid host name {_show(text)}: give a fully qualified name like login.example.com."
        )
    _labels(base, text)
    return f"*.{base}" if wildcard else base


def no_proxy_entry(text: str) -> str:
    """One `no_proxy` item: an IP, a CIDR, a host name, or a domain suffix (`.corp.example` or `*.corp.example`).

    Returned canonical: CIDRs normalised, `*.x` written as `.x` (the form curl, Python and WALinuxAgent all read).
    """
    text = _require_str(text, "a no-proxy entry")
    if "/" in text:
        return cidr(text)
    try:
        return ip_address(text)
    except UsageError:
        pass
    name = text.lower()
    if name.startswith("*."):
        return "." + fqdn_pattern(name)[2:]
    if name.startswith("."):
        return "." + fqdn_pattern(name[1:])
    if name and "." not in name:
        _labels(name, text)  # single-label names such as `localhost` or an intranet host
        return name
    return fqdn_pattern(name)


# Azure naming rules (Microsoft.Network, Microsoft.Resources), ASCII only: parentheses are the one character with
# shell meaning they allow, and every script quotes the value anyway.
_NSG_NAME = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9._-]{0,78}[A-Za-z0-9_])?")
_RESOURCE_GROUP = re.compile(r"[A-Za-z0-9._()-]{0,89}[A-Za-z0-9_()-]")


def nsg_name(text: str) -> str:
    """An NSG name: 1-80 letters, digits, `.`, `_`, `-`; starts with a letter or digit; ends with one or `_`."""
    text = _require_str(text, "an NSG name")
    if not _NSG_NAME.fullmatch(text):
        raise UsageError(
            f"invalid NSG name {_show(text)}: use 1-80 letters, digits, '.', '_' or '-', starting with a "
            "letter or digit and ending with a letter, digit or '_'."
        )
    return text


def resource_group_name(text: str) -> str:
    """A resource group name: 1-90 letters, digits, `.`, `_`, `-`, `(`, `)`; not ending with `.`."""
    text = _require_str(text, "a resource group name")
    if not _RESOURCE_GROUP.fullmatch(text):
        raise UsageError(
            f"invalid resource group name {_show(text)}: use 1-90 letters, digits, '.', '_', '-', '(' or ')', "
            "not ending with '.'."
        )
    return text
