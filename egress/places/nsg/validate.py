"""Every Azure rule from azure-nsg.md checked at once over ARM `securityRules` objects; all violations reported."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Mapping
from typing import Any

from egress.errors import RuleError
from egress.places.nsg import limits

_PORT_RANGE = re.compile(r"^(\*|\d{1,5}(-\d{1,5})?)$")
# Canonical IPv4 CIDR (decimal octets without leading zeros, length 0-32): text ipaddress always accepts, and the
# form egress writes; anything else is left to ipaddress.
_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_CANONICAL_V4 = re.compile(rf"{_OCTET}(?:\.{_OCTET}){{3}}/(?:3[0-2]|[12]?[0-9])")


def _prefix_family(text: str) -> int | None:
    """4 or 6 for an address or prefix; None for `*` and service tags; -1 for neither.

    As `ipaddress.ip_network(text, strict=False)` judges it, without its first trying IPv4 on IPv6 text
    (text with a colon is never IPv4, text without one never IPv6).
    """
    if text in ("*", "") or not (text[0].isdigit() or ":" in text):
        return None
    if _CANONICAL_V4.fullmatch(text):
        return 4
    try:
        if ":" in text:
            ipaddress.IPv6Network(text, strict=False)
            return 6
        ipaddress.IPv4Network(text, strict=False)
        return 4
    except ValueError:
        return -1


def _values(props: Mapping[str, Any], singular: str) -> tuple[list[str], list[str]]:
    one = props.get(singular)
    many = props.get(singular.replace("Prefix", "Prefixes").replace("Range", "Ranges")) or []
    return ([one] if one not in (None, "") else []), list(many)


def rule_violations(rules: Iterable[Mapping[str, Any]]) -> list[str]:
    """All problems Azure would reject, as sentences naming the rule; empty when the rule set is acceptable."""
    problems: list[str] = []
    rules = list(rules)
    if len(rules) > limits.MAX_RULES_PER_NSG:
        problems.append(f"{len(rules)} rules exceed Azure's {limits.MAX_RULES_PER_NSG} per NSG")
    names: dict[str, int] = {}
    priorities: dict[tuple[str, int], str] = {}
    totals = {"source": 0, "destination": 0}
    for index, rule in enumerate(rules):
        name = rule.get("name")
        props = rule.get("properties")
        label = f"rule {name!r}" if isinstance(name, str) else f"rule #{index + 1}"
        if not isinstance(name, str) or not limits.RULE_NAME.match(name):
            problems.append(
                f"{label}: name must be 1-{limits.MAX_NAME_LENGTH} characters, start with a letter, digit or `_`, "
                "end with one, and contain only those plus `.` and `-`"
            )
        elif name.lower() in names:
            problems.append(f"{label}: name used twice")
        else:
            names[name.lower()] = index
        if not isinstance(props, Mapping):
            problems.append(f"{label}: has no properties")
            continue
        problems.extend(f"{label}: {p}" for p in _shape_problems(props))
        direction, priority = props.get("direction"), props.get("priority")
        if isinstance(priority, int) and isinstance(direction, str):
            key = (direction, priority)
            if key in priorities:
                problems.append(
                    f"{label}: priority {priority} ({direction}) is also held by {priorities[key]!r} (SecurityRuleConflict)"
                )
            else:
                priorities[key] = str(name)
        for side in totals:
            one, many = _values(props, f"{side}AddressPrefix")
            totals[side] += len(one) + len(many)
    for side, total in totals.items():
        cap = (
            limits.MAX_SOURCE_PREFIXES_PER_NSG
            if side == "source"
            else limits.MAX_DESTINATION_PREFIXES_PER_NSG
        )
        if total > cap:
            problems.append(f"{total} {side} addresses/prefixes exceed Azure's {cap} per NSG")
    return problems


def _shape_problems(props: Mapping[str, Any]) -> list[str]:
    out: list[str] = []
    if props.get("protocol") not in limits.PROTOCOLS:
        out.append(f"protocol {props.get('protocol')!r} is not one of {', '.join(limits.PROTOCOLS)}")
    if props.get("access") not in limits.ACCESSES:
        out.append(f"access {props.get('access')!r} is not Allow or Deny")
    if props.get("direction") not in limits.DIRECTIONS:
        out.append(f"direction {props.get('direction')!r} is not Inbound or Outbound")
    priority = props.get("priority")
    if isinstance(priority, bool) or not isinstance(priority, int):
        out.append(f"priority {priority!r} is not an integer")
    elif not limits.MIN_PRIORITY <= priority <= limits.MAX_PRIORITY:
        out.append(f"priority {priority} is outside {limits.MIN_PRIORITY}-{limits.MAX_PRIORITY}")
    description = props.get("description") or ""
    if len(description) > limits.MAX_DESCRIPTION_LENGTH:
        out.append(f"description is {len(description)} characters, over {limits.MAX_DESCRIPTION_LENGTH}")
    families: set[int] = set()
    for side in ("source", "destination"):
        one, many = _values(props, f"{side}AddressPrefix")
        if one and many:
            out.append(f"{side} uses both the singular and the plural address field")
        if not one and not many and not props.get(f"{side}ApplicationSecurityGroups"):
            out.append(f"{side} address is empty")
        fams = [_prefix_family(value) for value in one + many]
        for value, fam in zip(many, fams[len(one) :], strict=True):
            if fam is None:
                out.append(
                    f"{side}AddressPrefixes holds {value!r}: a service tag or `*` must be alone in "
                    f"{side}AddressPrefix (SecurityRuleParameterContainsUnsupportedValue)"
                )
        for value, fam in zip(one + many, fams, strict=True):
            if fam == -1:
                out.append(f"{side} prefix {value!r} is not a valid address or prefix")
            elif fam is not None:
                families.add(fam)
        ports_one, ports_many = _values(props, f"{side}PortRange")
        if ports_one and ports_many:
            out.append(f"{side} uses both the singular and the plural port field")
        for port in ports_one + ports_many:
            if not _valid_port(str(port)):
                out.append(f"{side} port {port!r} is not `*`, a port or a range lo-hi within 0-65535")
    if len(families) > 1:
        out.append(
            "mixes IPv4 and IPv6 prefixes (ResourceCannotContainAddressPrefixesFromDifferentAddressFamilies)"
        )
    return out


def _valid_port(text: str) -> bool:
    if not _PORT_RANGE.match(text):
        return False
    if text == "*":
        return True
    lo, _, hi = text.partition("-")
    low, high = int(lo), int(hi or lo)
    return 0 <= low <= high <= 65535


def ensure_valid(rules: Iterable[Mapping[str, Any]], *, what: str = "the planned rules") -> None:
    problems = rule_violations(rules)
    if problems:
        shown = "; ".join(problems[:10])
        more = f"; and {len(problems) - 10} more" if len(problems) > 10 else ""
        raise RuleError(f"{what} break {len(problems)} Azure rule(s): {shown}{more}.")
