"""Lint an NSG: rules that can never match, allows under a deny, allows wider than needed, Azure limit usage.

Shadowing is exact: a rule's flow space (protocol x source x source port x destination x destination port,
split by address family) minus the spaces of every earlier rule of its direction; if nothing is left, the rule
never matches, and the findings name the rules that took its traffic. Rules with application security groups
are left out of that analysis (their members are unknown offline) and reported as not analysed.

Shape checks catch what the API would refuse: a service tag inside a plural prefix list, IPv4 and IPv6
prefixes in one rule, a tag whose networkFeatures lack NSG, priorities outside 100-4096 or shared within a
direction, descriptions over 140 characters, rule names Azure does not accept or used twice. A rule only for
168.63.129.16 is flagged as unneeded: the platform exempts that address from NSGs.

Limits are counted as Azure counts them for one NSG: custom rules (1,000), and, separately, source and
destination address entries summed over the custom rules (4,000 each; every entry of a plural list counts,
the singular field counts 1, a service tag counts 1).
"""

from __future__ import annotations

from collections.abc import Sequence

from egress.core.addrset import ALL_PORTS, ALL_PROTOCOLS, ALL_V4, looks_like_address
from egress.core.lint_report import Finding, LimitUsage, LintReport
from egress.core.model import Dataset
from egress.errors import EgressError, UnknownTagError
from egress.places.nsg.limits import MAX_NAME_LENGTH, RULE_NAME
from egress.places.nsg.model import DIRECTIONS, Nsg, SecurityRule
from egress.places.nsg.space import (
    DEFAULT_VNET,
    DST,
    PUBLIC,
    Box,
    CompiledRule,
    Resolver,
    box_intersect,
    box_subtract,
    compile_rule,
    family_split,
)

RULE_LIMIT = 1000
PREFIX_LIMIT = 4000
PRIORITY_MIN, PRIORITY_MAX = 100, 4096
WARN_PERCENT = 80.0
MAX_BOXES = 20000  # per rule; beyond this the exact analysis gives up on that rule (never seen in practice)
_WIDE_WORDS = {"*", "any", "internet", "0.0.0.0/0", "::/0"}


def _ref(rule: SecurityRule) -> str:
    return f"{rule.name} ({rule.priority})"


def _finding(severity: str, code: str, rule: SecurityRule, message: str) -> Finding:
    return Finding(severity, code, rule.name, message, rule.direction, rule.priority)


def limit_usage(nsg: Nsg) -> tuple[LimitUsage, ...]:
    return (
        LimitUsage("rules", len(nsg.rules), RULE_LIMIT),
        LimitUsage("source prefixes", sum(len(r.sources) for r in nsg.rules), PREFIX_LIMIT),
        LimitUsage("destination prefixes", sum(len(r.destinations) for r in nsg.rules), PREFIX_LIMIT),
    )


def _limit_findings(limits: Sequence[LimitUsage]) -> list[Finding]:
    out = []
    for usage in limits:
        if usage.used > usage.limit:
            severity, advice = "error", " Azure rejects every update of this NSG until it is back under."
        elif usage.percent >= WARN_PERCENT:
            severity, advice = "warning", " Little room is left for new rules."
        else:
            severity, advice = "info", ""
        message = f"{usage.name}: {usage.used} of {usage.limit} ({usage.percent:g}%).{advice}"
        out.append(Finding(severity, "limit", "", message))
    return out


def _priority_findings(nsg: Nsg) -> list[Finding]:
    out = []
    seen: dict[tuple[str, int], SecurityRule] = {}
    for rule in sorted(nsg.rules, key=lambda r: (r.direction, r.priority, r.name)):
        if not PRIORITY_MIN <= rule.priority <= PRIORITY_MAX:
            out.append(
                _finding(
                    "error",
                    "priority-range",
                    rule,
                    f"priority {rule.priority} is outside {PRIORITY_MIN}-{PRIORITY_MAX}; Azure rejects the rule.",
                )
            )
        key = (rule.direction, rule.priority)
        if key in seen:
            out.append(
                _finding(
                    "error",
                    "priority-conflict",
                    rule,
                    f"shares {rule.direction} priority {rule.priority} with {seen[key].name}; "
                    "Azure rejects the NSG (SecurityRuleConflict).",
                )
            )
        else:
            seen[key] = rule
    return out


def _name_findings(nsg: Nsg) -> list[Finding]:
    """Names Azure refuses: outside its character rules, or used twice in one NSG (any case)."""
    out = []
    seen: dict[str, SecurityRule] = {}
    for rule in nsg.rules:
        if not RULE_NAME.match(rule.name):
            out.append(
                _finding(
                    "error",
                    "invalid-name",
                    rule,
                    f"name {rule.name!r} is not a name Azure accepts (1-{MAX_NAME_LENGTH} letters, digits, `_`, "
                    "`.` or `-`, starting and ending with a letter, digit or `_`).",
                )
            )
        first = seen.setdefault(rule.name.lower(), rule)
        if first is not rule:
            out.append(
                _finding(
                    "error",
                    "duplicate-name",
                    rule,
                    f"name also used by the {first.direction} rule at priority {first.priority}; "
                    "Azure rejects an NSG with two rules of one name.",
                )
            )
    return out


_BUILTIN_WORDS = {"*", "any", "internet", "virtualnetwork", "azureloadbalancer"}
DESCRIPTION_MAX = 140


def _shape_findings(rule: SecurityRule, dataset: Dataset | None) -> list[Finding]:
    """What Azure's API refuses in one rule, caught before a PUT fails."""
    out = []
    for side, plural in (
        ("source", rule.source_address_prefixes),
        ("destination", rule.destination_address_prefixes),
    ):
        words = [e for e in plural if not looks_like_address(e)]
        if words:
            out.append(
                _finding(
                    "error",
                    "tag-in-list",
                    rule,
                    f"{', '.join(words)} in {side}AddressPrefixes: Azure takes a service tag or '*' only in the "
                    f"singular {side}AddressPrefix (SecurityRuleParameterContainsUnsupportedValue).",
                )
            )
    families = {
        "IPv6" if ":" in e else "IPv4" for e in (*rule.sources, *rule.destinations) if looks_like_address(e)
    }
    if len(families) > 1:
        out.append(
            _finding(
                "error",
                "mixed-families",
                rule,
                "mixes IPv4 and IPv6 prefixes; Azure refuses that in one rule: split it in two.",
            )
        )
    if dataset is not None:
        for entry in (*rule.sources, *rule.destinations):
            tag = (
                None if looks_like_address(entry) or entry.lower() in _BUILTIN_WORDS else dataset.find(entry)
            )
            if tag is not None and not tag.nsg_usable:
                out.append(
                    _finding(
                        "error",
                        "tag-not-for-nsg",
                        rule,
                        f"service tag {tag.name} is not usable in NSG rules (its networkFeatures lack NSG).",
                    )
                )
    if rule.description and len(rule.description) > DESCRIPTION_MAX:
        out.append(
            _finding(
                "error",
                "description-too-long",
                rule,
                f"description has {len(rule.description)} characters; Azure allows {DESCRIPTION_MAX}.",
            )
        )
    return out


PLATFORM_IP = "168.63.129.16"


def _platform_ip_finding(rule: SecurityRule) -> list[Finding]:
    """A rule whose remote side is only 168.63.129.16: the platform exempts that address from NSGs."""
    remote = rule.destinations if rule.direction == "Outbound" else rule.sources
    if not remote or any(e.strip() not in (PLATFORM_IP, PLATFORM_IP + "/32") for e in remote):
        return []
    return [
        _finding(
            "warning",
            "platform-ip",
            rule,
            f"exists only for {PLATFORM_IP}, Azure's platform address (DHCP, DNS, health probes, the VM agent), "
            "which NSG rules never affect; the rule is not needed.",
        )
    ]


def _is_wide(rule: SecurityRule, compiled: CompiledRule) -> str | None:
    for entry in rule.destinations:
        if entry.strip().lower() in _WIDE_WORDS:
            return entry
    if compiled.box is not None and (PUBLIC & ALL_V4).issubset(compiled.box[DST]):
        return "every public IPv4 address"
    return None


def _port_range_findings(rule: SecurityRule) -> list[Finding]:
    """A range such as the guide's 80-443 also opens every port between its ends (81-442 there)."""
    out = []
    for entry in rule.destination_ports:
        low, _, high = entry.strip().partition("-")
        if not (low.isdigit() and high.isdigit()) or int(high) - int(low) < 2:
            continue
        first, last = int(low), int(high)
        if first == 0 and last == 65535:
            continue  # every port, said the long way: nothing hides between the ends
        out.append(
            _finding(
                "info",
                "port-range",
                rule,
                f"destination ports {first}-{last} also open the {last - first - 1} ports {first + 1}-{last - 1}; "
                f"if only {first} and {last} are needed, list them ({first},{last}; egress: --proxy-ports).",
            )
        )
    return out


def _broad_deny(rule: SecurityRule) -> bool:
    return rule.access == "Deny" and any(e.strip().lower() in _WIDE_WORDS for e in rule.destinations)


def _shadow_findings(rule: CompiledRule, earlier: Sequence[CompiledRule]) -> list[Finding]:
    assert rule.box is not None
    remaining: list[Box] = family_split(rule.box)
    if not remaining:
        return [
            _finding(
                "warning",
                "shadowed",
                rule.rule,
                "never matches: its sources and destinations share no family.",
            )
        ]
    takers: list[SecurityRule] = []
    partial_deniers: list[SecurityRule] = []
    for other in earlier:
        if other.box is None:
            continue
        rest: list[Box] = []
        touched = False
        for box in remaining:
            if box_intersect(box, other.box) is None:
                rest.append(box)
            else:
                touched = True
                rest.extend(box_subtract(box, other.box))
        if touched:
            takers.append(other.rule)
            if rule.rule.access == "Allow" and _broad_deny(other.rule):
                partial_deniers.append(other.rule)
        remaining = rest
        if not remaining:
            break
        if len(remaining) > MAX_BOXES:
            return [
                _finding(
                    "info",
                    "not-analysed",
                    rule.rule,
                    "too many overlapping rules above it to prove whether it can match.",
                )
            ]
    if not remaining:
        deniers = [r for r in takers if r.access == "Deny"]
        if rule.rule.access == "Allow" and deniers:
            others = [r for r in takers if r.access != "Deny"]
            tail = f"; the rest is taken by {', '.join(_ref(r) for r in others)}" if others else ""
            return [
                _finding(
                    "error",
                    "allow-below-deny",
                    rule.rule,
                    f"never matches: its traffic is denied first by {', '.join(_ref(r) for r in deniers)}"
                    f"{tail}; give it a lower priority number than the deny.",
                )
            ]
        return [
            _finding(
                "warning",
                "shadowed",
                rule.rule,
                f"never matches: higher-priority rules take all its traffic: {', '.join(_ref(r) for r in takers)}.",
            )
        ]
    if partial_deniers:
        return [
            _finding(
                "warning",
                "allow-below-deny",
                rule.rule,
                f"part of its traffic is denied first by {', '.join(_ref(r) for r in partial_deniers)}; "
                "move it above the deny if that part should be allowed.",
            )
        ]
    return []


def _internet_open(nsg: Nsg, compiled: Sequence[CompiledRule], resolver: Resolver) -> list[Finding]:
    """Custom outbound allows restrict nothing while the default AllowInternetOutBound still decides some flows."""
    if not any(r.direction == "Outbound" and r.access == "Allow" for r in nsg.rules):
        return []
    internet = resolver.entry("Internet")
    remaining = family_split((ALL_PROTOCOLS, resolver.vnet, ALL_PORTS, internet, ALL_PORTS))
    for item in compiled:
        if item.box is None:
            continue
        if item.default and item.rule.access == "Allow" and item.rule.name == "AllowInternetOutBound":
            if any(box_intersect(box, item.box) for box in remaining):
                return [
                    Finding(
                        "warning",
                        "internet-open",
                        item.rule.name,
                        "outbound traffic to the Internet is still allowed by the default rule "
                        "AllowInternetOutBound; add an Outbound Deny Internet rule below your allows "
                        "(priority number up to 4096).",
                        "Outbound",
                        item.rule.priority,
                    )
                ]
            return []
        rest: list[Box] = []
        for box in remaining:
            rest.extend(box_subtract(box, item.box))
        remaining = rest
        if not remaining:
            return []
    return []


def lint(nsg: Nsg, dataset: Dataset | None, *, vnet: Sequence[str] = DEFAULT_VNET) -> LintReport:
    """Every finding for one NSG, sorted (errors first, then by direction and priority)."""
    resolver = Resolver(dataset, vnet)
    findings: list[Finding] = []
    limits = limit_usage(nsg)
    findings += _limit_findings(limits)
    findings += _priority_findings(nsg)
    findings += _name_findings(nsg)
    for rule in nsg.rules:
        findings += _shape_findings(rule, dataset)
        findings += _platform_ip_finding(rule)
    for direction in DIRECTIONS:
        chosen = [(r, False) for r in nsg.rules if r.direction == direction]
        chosen += [(r, True) for r in nsg.default_rules if r.direction == direction]
        chosen.sort(key=lambda item: (item[0].priority, item[0].name))
        compiled: list[CompiledRule] = []
        for rule, default in chosen:
            try:
                compiled.append(compile_rule(rule, resolver, default=default))
            except UnknownTagError as exc:
                message = f"{str(exc).rstrip('.')}; the rule was not analysed."
                findings.append(_finding("error", "unknown-tag", rule, message))
            except EgressError as exc:
                findings.append(_finding("error", "invalid", rule, f"{exc} The rule was not analysed."))
        for index, item in enumerate(compiled):
            if item.default:
                continue
            if item.box is None:
                findings.append(
                    _finding(
                        "info",
                        "asg-not-analysed",
                        item.rule,
                        "uses application security groups, whose members egress cannot see; "
                        "shadowing was not checked for it or against it.",
                    )
                )
                continue
            findings += _shadow_findings(item, compiled[:index])
            if direction == "Outbound" and item.rule.access == "Allow":
                wide = _is_wide(item.rule, item)
                if wide:
                    findings.append(
                        _finding(
                            "warning",
                            "wide-allow",
                            item.rule,
                            f"allows outbound traffic to {wide}: any destination; allow only the service tags "
                            "or prefixes that are needed.",
                        )
                    )
            if item.rule.access == "Allow":
                findings += _port_range_findings(item.rule)
        if direction == "Outbound":
            findings += _internet_open(nsg, compiled, resolver)
    return LintReport(tuple(sorted(findings, key=Finding.sort_key)), limits)
