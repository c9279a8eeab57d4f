"""The checks the Network resource provider applies to a security-rule list, answered with Azure's error
codes.

Codes marked "observed" appear in public error reports; the others are the double's best guess and are only
meant to be distinguishable in tests.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

MAX_RULES = 1000
MAX_PREFIXES = 4000  # IP addresses and ranges per side (source / destination), summed over an NSG's rules
PRIORITY_RANGE = (100, 4096)
MAX_DESCRIPTION = 140
# 1-80 chars, starts with a word character, ends with a word character or `_`, may contain `.` `-` `_`.
NAME_RE = re.compile(r"^\w(?:[\w.-]{0,78}\w)?$")
PROTOCOLS = ("Tcp", "Udp", "Icmp", "Esp", "Ah", "*")
ACCESS = ("Allow", "Deny")
DIRECTIONS = ("Inbound", "Outbound")
# Tags every cloud knows even without a service-tag file (lower-cased; names match case-insensitively).
BUILTIN_TAGS = frozenset({"*", "virtualnetwork", "azureloadbalancer", "internet"})


@dataclass(frozen=True)
class ArmValidationError(Exception):
    """One 400 answer: Azure's error code and message."""

    code: str
    message: str
    status: int = 400

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


def valid_name(name: object) -> bool:
    return isinstance(name, str) and bool(NAME_RE.match(name))


def check_name(name: object, what: str = "security rule") -> None:
    if not valid_name(name):
        raise ArmValidationError(
            "InvalidResourceName",  # observed
            f"Resource name {name!s} is invalid. The name can be up to 80 characters long. It must begin "
            "with a word character, and it must end with a word character or with '_'. The name may contain "
            f"word characters or '.', '-', '_'. ({what})",
        )


def _literal(value: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    """An IP address or CIDR, or None for anything else (a tag, `*`)."""
    try:
        return ipaddress.ip_network(value.strip(), strict=False)
    except ValueError:
        return None


def _looks_like_ip(value: str) -> bool:
    return bool(re.match(r"^[0-9a-fA-F:.]+(/\d+)?$", value)) and any(c.isdigit() for c in value)


def _check_ports(rule_id: str, field: str, values: Iterable[object]) -> None:
    for value in values:
        text = str(value).strip()
        if text == "*":
            continue
        parts = text.split("-")
        ok = len(parts) in (1, 2) and all(p.isdigit() and 0 <= int(p) <= 65535 for p in parts)
        if ok and len(parts) == 2 and int(parts[0]) > int(parts[1]):
            ok = False
        if not ok:
            raise ArmValidationError(
                "SecurityRuleInvalidPortRange",  # guess
                f"Security rule {rule_id} has invalid port range in {field}. Value provided: {text}. Value "
                "should be an integer OR integer range with '-' delimiter. Valid range 0-65535.",
            )


def _check_side(
    rule_id: str, props: Mapping[str, Any], side: str, known_tags: set[str] | None
) -> tuple[list[str], set[int]]:
    """Check one side (source/destination) of a rule; return its counted entries and the IP families seen."""
    single = props.get(f"{side}AddressPrefix")
    plural = props.get(f"{side}AddressPrefixes") or []
    asgs = props.get(f"{side}ApplicationSecurityGroups") or []
    if not single and not plural and not asgs:
        cap = side[0].upper() + side[1:]
        raise ArmValidationError(
            "SecurityRuleParametersMissing",  # observed
            f"Required security rule parameters are missing for security rule with Id: {rule_id}. Security "
            f"rule must specify {cap}AddressPrefixes, {cap}AddressPrefix, or {cap}ApplicationSecurityGroups.",
        )
    if not isinstance(plural, list) or not all(isinstance(p, str) for p in plural):
        raise ArmValidationError("InvalidRequestFormat", f"{side}AddressPrefixes must be a list of strings.")
    families: set[int] = set()
    for value in plural:
        net = _literal(value)
        if net is None:
            raise ArmValidationError(
                "SecurityRuleParameterContainsUnsupportedValue",  # observed
                f"Security rule parameter {side[0].upper() + side[1:]}AddressPrefixes for rule with Id "
                f"{rule_id} cannot specify existing VIRTUALNETWORK, INTERNET, AZURELOADBALANCER, '*' or "
                f"system tags. Unsupported value used: {value}.",
            )
        families.add(net.version)
    entries = list(plural)
    if isinstance(single, str) and single:
        net = _literal(single)
        if net is not None:
            families.add(net.version)
        elif _looks_like_ip(single) or (
            known_tags is not None and single.lower() not in known_tags and single.lower() not in BUILTIN_TAGS
        ):
            raise ArmValidationError(
                "SecurityRuleInvalidAddressPrefix",  # guess
                f"Security rule {rule_id} has invalid Address prefix. Value provided: {single}.",
            )
        if net is not None:
            entries.append(single)  # the limit counts IP addresses and ranges; tags and `*` are not counted
    return entries, families


def check_rule(
    nsg_id: str, rule: Mapping[str, Any], known_tags: set[str] | None = None
) -> tuple[list[str], list[str]]:
    """Validate one rule; return the (source, destination) address entries it adds to the NSG's totals."""
    name = rule.get("name")
    check_name(name)
    rule_id = f"{nsg_id}/securityRules/{name}"
    props = rule.get("properties")
    if not isinstance(props, Mapping):
        raise ArmValidationError("InvalidRequestFormat", f"Security rule {rule_id} has no properties.")
    missing = [k for k in ("protocol", "access", "priority", "direction") if props.get(k) in (None, "")]
    if missing:
        raise ArmValidationError(
            "SecurityRuleParametersMissing",  # observed
            f"Required security rule parameters are missing for security rule with Id: {rule_id}. Missing: "
            f"{', '.join(missing)}.",
        )
    for key, allowed in (("protocol", PROTOCOLS), ("access", ACCESS), ("direction", DIRECTIONS)):
        if str(props[key]).lower() not in {a.lower() for a in allowed}:
            raise ArmValidationError(
                "InvalidRequestFormat",
                f"Cannot parse the request. Value {props[key]!r} of {key} in rule {rule_id} is not one of "
                f"{', '.join(allowed)}.",
            )
    priority = props["priority"]
    lo, hi = PRIORITY_RANGE
    if isinstance(priority, bool) or not isinstance(priority, int) or not lo <= priority <= hi:
        raise ArmValidationError(
            "SecurityRuleInvalidPriority",
            f"Security rule {rule_id} has invalid priority {priority}. Value provided: {priority} Allowed "
            f"values are from {lo} to {hi}.",
        )
    description = props.get("description")
    if description is not None and len(str(description)) > MAX_DESCRIPTION:
        raise ArmValidationError(
            "SecurityRuleDescriptionTooLong",  # guess; the 140-character limit itself is documented
            f"Security rule {rule_id} has a description of {len(str(description))} characters; the limit is "
            f"{MAX_DESCRIPTION}.",
        )
    for side in ("source", "destination"):
        single = props.get(f"{side}PortRange")
        plural = props.get(f"{side}PortRanges") or []
        if not single and not plural:
            raise ArmValidationError(
                "SecurityRuleParametersMissing",
                f"Required security rule parameters are missing for security rule with Id: {rule_id}. "
                f"Security rule must specify {side}PortRange or {side}PortRanges.",
            )
        _check_ports(rule_id, f"{side}PortRange", [single] if single else [])
        _check_ports(rule_id, f"{side}PortRanges", plural)
    src, src_fam = _check_side(rule_id, props, "source", known_tags)
    dst, dst_fam = _check_side(rule_id, props, "destination", known_tags)
    if len(src_fam | dst_fam) > 1:
        raise ArmValidationError(
            "ResourceCannotContainAddressPrefixesFromDifferentAddressFamilies",  # observed
            f"Resource {rule_id} cannot contain address prefixes from different address families (IPv4 and "
            "IPv6).",
        )
    return src, dst


def check_rules(nsg_id: str, nsg_name: str, rules: Sequence[Any], known_tags: set[str] | None = None) -> None:
    """Validate a whole `securityRules` list as one NSG PUT would; raise the first error found."""
    if not isinstance(rules, list):
        raise ArmValidationError("InvalidRequestFormat", "properties.securityRules must be a list.")
    if len(rules) > MAX_RULES:
        raise ArmValidationError(
            "SecurityRuleCountLimitReached",  # observed
            f"A security group cannot have more than {MAX_RULES} security rules. Requested: {len(rules)}.",
        )
    seen_names: dict[str, str] = {}
    seen_priorities: dict[tuple[str, int], str] = {}
    totals = {"source": 0, "destination": 0}
    for rule in rules:
        if not isinstance(rule, Mapping):
            raise ArmValidationError("InvalidRequestFormat", "Every security rule must be an object.")
        src, dst = check_rule(nsg_id, rule, known_tags)
        name = str(rule["name"])
        if name.lower() in seen_names:
            raise ArmValidationError(
                "DuplicateResourceName",
                f"Network security group {nsg_id} cannot have two security rules with the same name {name}.",
            )
        seen_names[name.lower()] = name
        props = rule["properties"]
        key = (str(props["direction"]).lower(), int(props["priority"]))
        if key in seen_priorities:
            raise ArmValidationError(
                "SecurityRuleConflict",  # observed
                f"Security rule {seen_priorities[key]} conflicts with rule {name}. Rules cannot have the "
                "same Priority and Direction. To learn more, see aka.ms/nsgrules.",
            )
        seen_priorities[key] = name
        totals["source"] += len(src)
        totals["destination"] += len(dst)
    for side, total in totals.items():
        if total > MAX_PREFIXES:
            raise ArmValidationError(
                "SecurityRuleAddressesOrPortsPerSecurityGroupLimitReached",  # observed
                f"Security group {nsg_name} has {total} {side} addresses or ports; the limit is "
                f"{MAX_PREFIXES} per security group.",
            )
