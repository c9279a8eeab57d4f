"""Lint a rule collection group: network rules naming a service tag Azure Firewall will not take (no `FW` in
its networkFeatures), duplicate collection priorities, and the usage of the firewall's limits."""

from __future__ import annotations

from egress.core.lint_report import Finding, LimitUsage, LintReport
from egress.core.model import Dataset
from egress.places.firewall_policy import limits
from egress.places.firewall_policy.model import RuleCollectionGroup, combinations, size_bytes
from egress.places.firewall_policy.planner import check_network_tags


def lint_group(group: RuleCollectionGroup, dataset: Dataset) -> LintReport:
    findings: list[Finding] = []
    network = [
        r
        for c in group.collections
        for r in (c.raw.get("rules") or [])
        if isinstance(r, dict) and r.get("ruleType") == "NetworkRule"
    ]
    for rule, tag in check_network_tags(network, dataset):
        findings.append(
            Finding(
                "error",
                "tag-not-for-firewall",
                rule,
                f"names service tag {tag}, whose networkFeatures lack FW: Azure Firewall refuses it; allow its IP "
                "ranges instead (egress --place firewall-policy --expand-unusable)",
            )
        )
    seen: dict[int, str] = {}
    for c in group.collections:
        if c.priority in seen:
            findings.append(
                Finding(
                    "error", "priority", c.name, f"priority {c.priority} is also held by {seen[c.priority]}"
                )
            )
        seen.setdefault(c.priority, c.name)
    usage = (
        LimitUsage("group bytes", size_bytes([c.raw for c in group.collections]), limits.MAX_RCG_BYTES),
        LimitUsage(
            "source-destination combinations",
            sum(combinations(r) for r in network),
            limits.MAX_UNIQUE_SOURCE_DESTINATIONS,
        ),
    )
    for u in usage:
        if u.used > u.limit:
            findings.append(
                Finding("error", "limit", "", f"{u.used} {u.name}, over the firewall's {u.limit}")
            )
    return LintReport(tuple(findings), usage)
