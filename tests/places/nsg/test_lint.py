"""Lint: planted shadowing, allows under a deny, wide allows, limits, priority errors, unknown tags."""

from __future__ import annotations

from egress.core.lint_report import Finding
from egress.core.model import Dataset, Provenance, ServiceTag
from egress.places.nsg.lint import lint
from egress.places.nsg.model import Nsg, SecurityRule

DATA = Dataset(
    Provenance(cloud="Public", change_number=1, source="test", kind="file", sha256="0"),
    (
        ServiceTag("Storage.Test", prefixes=("20.0.0.0/24", "20.0.1.0/24")),
        ServiceTag("Backup.Test", prefixes=("40.0.0.0/26",)),
        ServiceTag("FirewallOnly.Test", network_features=("API", "FW"), prefixes=("50.0.0.0/24",)),
    ),
)
VNET = ("10.0.0.0/16",)
NOT_10_8 = ["0.0.0.0/5", "8.0.0.0/7", "11.0.0.0/8", "12.0.0.0/6", "16.0.0.0/4", "32.0.0.0/3", "64.0.0.0/2",
            "128.0.0.0/1", "::/0"]  # fmt: skip


def rule(
    name: str,
    priority: int,
    access: str = "Allow",
    *,
    direction: str = "Outbound",
    protocol: str = "Tcp",
    src: str | list[str] = "*",
    dst: str | list[str] = "*",
    dport: str = "443",
    extra: dict[str, object] | None = None,
) -> SecurityRule:
    s1, sn = (src, ()) if isinstance(src, str) else (None, tuple(src))
    d1, dn = (dst, ()) if isinstance(dst, str) else (None, tuple(dst))
    return SecurityRule(
        name, priority, direction, access, protocol, s1, sn, d1, dn, "*", (), dport, (), extra=extra or {}
    )


def findings(*rules: SecurityRule, code: str | None = None) -> list[Finding]:
    report = lint(Nsg(name="t", rules=list(rules)), DATA, vnet=VNET)
    return [f for f in report.findings if code is None or f.code == code]


def test_single_rule_shadowing() -> None:
    found = findings(
        rule("AllowWide", 100, dst="20.0.0.0/16"),
        rule("AllowNarrow", 200, dst="20.0.1.0/24"),
        rule("AllowOther", 300, dst="20.1.0.0/24"),
        code="shadowed",
    )
    assert [(f.rule, f.severity, f.priority) for f in found] == [("AllowNarrow", "warning", 200)]
    assert "AllowWide (100)" in found[0].message


def test_union_of_earlier_rules_shadows() -> None:
    found = findings(
        rule("A", 100, dst="20.0.0.0/24"),
        rule("B", 110, dst="20.0.1.0/24"),
        rule("Both", 120, dst="Storage.Test"),  # exactly A's and B's prefixes together
        code="shadowed",
    )
    assert [f.rule for f in found] == ["Both"]
    assert "A (100)" in found[0].message and "B (110)" in found[0].message


def test_union_over_several_dimensions() -> None:
    # E1 takes 10/8 -> 8.8.8.0/24; E2 every other source: what is left of R is 10/8 -> not 8.8.8.0/24.
    e1 = rule("E1", 100, "Deny", src="10.0.0.0/8", dst="8.8.8.0/24")
    e2 = rule("E2", 110, src=NOT_10_8)
    r = rule("R", 120)
    assert findings(e1, e2, r, code="shadowed") == []
    assert findings(e1, e2, r, code="allow-below-deny") == []
    e3 = rule("E3", 115, src="10.0.0.0/8")
    found = findings(e1, e2, e3, r, code="allow-below-deny")
    assert [(f.rule, f.severity) for f in found] == [("R", "error")]
    assert "denied first by E1 (100)" in found[0].message and "E3 (115)" in found[0].message


def test_other_fields_limit_shadowing() -> None:
    wide = rule("AllowWide", 100, dst="20.0.0.0/16")
    assert findings(wide, rule("OtherPort", 200, dst="20.0.1.0/24", dport="80"), code="shadowed") == []
    assert findings(wide, rule("Udp", 200, protocol="Udp", dst="20.0.1.0/24"), code="shadowed") == []
    assert findings(wide, rule("In", 200, direction="Inbound", dst="20.0.1.0/24"), code="shadowed") == []
    # `*` protocol with ports still only meets Tcp and Udp; a Tcp+Udp pair above shadows it.
    both = [rule("T", 100, dst="20.0.0.0/24"), rule("U", 110, protocol="Udp", dst="20.0.0.0/24")]
    assert [
        f.rule for f in findings(*both, rule("Any", 120, protocol="*", dst="20.0.0.0/24"), code="shadowed")
    ] == ["Any"]
    # ... but with port `*` it also meets ICMP, ESP, ... and is not shadowed.
    assert (
        findings(*both, rule("All", 120, protocol="*", dst="20.0.0.0/24", dport="*"), code="shadowed") == []
    )


def test_allow_below_deny_internet() -> None:
    deny = rule("DenyInternet", 4000, "Deny", protocol="*", dst="Internet", dport="*")
    found = findings(deny, rule("AllowBackupLate", 4010, dst="Backup.Test"), code="allow-below-deny")
    assert [(f.rule, f.severity) for f in found] == [("AllowBackupLate", "error")]
    assert "denied first by DenyInternet (4000)" in found[0].message
    # Part of an allow-all-443 still reaches VNet addresses: a warning, not an error.
    partial = findings(deny, rule("Allow443", 4010, dst="*"), code="allow-below-deny")
    assert [(f.rule, f.severity) for f in partial] == [("Allow443", "warning")]
    # Above the deny it is fine.
    assert findings(deny, rule("AllowBackup", 200, dst="Backup.Test"), code="allow-below-deny") == []
    # A VNet-only allow below a deny of the Internet is not in its way.
    assert findings(deny, rule("AllowVnet", 4010, dst="VirtualNetwork"), code="allow-below-deny") == []


def test_wide_allows() -> None:
    found = findings(
        rule("Star", 100, dst="*"),
        rule("Internet", 110, dst="Internet", dport="80"),
        rule("Zero", 120, dst="0.0.0.0/0", dport="8080"),
        rule("Halves", 130, dst=["0.0.0.0/1", "128.0.0.0/1"], dport="9000"),
        rule("Tag", 140, dst="Storage.Test"),
        rule("InboundStar", 150, direction="Inbound", dst="*"),
        rule("DenyStar", 160, "Deny", dst="*", dport="22"),
        code="wide-allow",
    )
    assert [f.rule for f in found] == ["Star", "Internet", "Zero", "Halves"]
    assert all(f.severity == "warning" for f in found)


def test_internet_left_open_by_default_rule() -> None:
    found = findings(rule("AllowStorage", 100, dst="Storage.Test"), code="internet-open")
    assert [(f.rule, f.severity) for f in found] == [("AllowInternetOutBound", "warning")]
    closed = [
        rule("AllowStorage", 100, dst="Storage.Test"),
        rule("DenyInternet", 4000, "Deny", protocol="*", dst="Internet", dport="*"),
    ]
    assert findings(*closed, code="internet-open") == []
    assert findings(code="internet-open") == []  # no allow-list, nothing to warn about


def test_limits_count_like_azure() -> None:
    rules = [rule(f"R{i}", 100 + i, src=["10.0.1.0/24", "10.0.2.0/24"], dst="Storage.Test") for i in range(9)]
    report = lint(Nsg(name="t", rules=rules), DATA, vnet=VNET)
    usage = {u.name: (u.used, u.limit, u.percent) for u in report.limits}
    assert usage == {
        "rules": (9, 1000, 0.9),
        "source prefixes": (18, 4000, 0.5),
        "destination prefixes": (9, 4000, 0.2),  # a tag counts 1
    }
    limit = [f for f in report.findings if f.code == "limit"]
    assert {f.severity for f in limit} == {"info"} and len(limit) == 3
    many = [rule("Big", 100, dst=[f"20.{i // 256}.{i % 256}.0/24" for i in range(3300)])]
    report = lint(Nsg(name="t", rules=many), DATA, vnet=VNET)
    dest = next(f for f in report.findings if f.code == "limit" and f.message.startswith("destination"))
    assert dest.severity == "warning" and "3300 of 4000 (82.5%)" in dest.message
    over = [rule("Huge", 100, dst=[f"20.{i // 256}.{i % 256}.0/24" for i in range(4001)])]
    dest = next(
        f
        for f in lint(Nsg(name="t", rules=over), DATA, vnet=VNET).findings
        if f.code == "limit" and f.message.startswith("destination")
    )
    assert dest.severity == "error"


def test_priority_errors() -> None:
    found = findings(
        rule("A", 100), rule("B", 100, dst="1.2.3.4"), rule("C", 100, direction="Inbound"), rule("D", 5000)
    )
    codes = [(f.code, f.rule) for f in found if f.code.startswith("priority")]
    assert codes == [("priority-conflict", "B"), ("priority-range", "D")]


def test_unknown_tag_and_asgs_are_reported_not_fatal() -> None:
    found = findings(
        rule("Typo", 100, dst="Storage.Tset"),
        rule("Asg", 110, extra={"destinationApplicationSecurityGroups": [{"id": "/a"}]}, dst=[]),
        rule("Fine", 120, dst="Storage.Test"),
    )
    by_code = {(f.code, f.rule): f for f in found}
    assert by_code[("unknown-tag", "Typo")].severity == "error"
    assert "did you mean Storage.Test" in by_code[("unknown-tag", "Typo")].message
    assert by_code[("asg-not-analysed", "Asg")].severity == "info"


def test_findings_are_sorted() -> None:
    found = findings(
        rule("DenyInternet", 4000, "Deny", protocol="*", dst="Internet", dport="*"),
        rule("Late", 4010, dst="Backup.Test"),
        rule("Star", 100, dst="*", dport="80"),
        rule("Inner", 200, dst="20.0.0.0/24", dport="80"),
    )
    assert found == sorted(found, key=Finding.sort_key)
    severities = [f.severity for f in found]
    assert severities == sorted(severities, key=["error", "warning", "info"].index)
    assert [(f.severity, f.code, f.rule) for f in found if f.code != "limit"] == [
        ("error", "allow-below-deny", "Late"),
        ("warning", "wide-allow", "Star"),
        ("warning", "shadowed", "Inner"),
    ]


def test_shapes_azure_refuses() -> None:
    long = SecurityRule(
        "Long", 150, "Outbound", "Allow", "Tcp", "*", (), "8.8.8.8", (), "*", (), "443", (), "x" * 141
    )
    found = findings(
        rule("TagInList", 100, dst=["Storage.Test", "20.0.0.0/24"]),
        rule("Mixed", 110, src="10.0.0.0/16", dst=["2603::/64", "8.8.8.0/24"]),
        rule("NotNsg", 120, dst="FirewallOnly.Test"),
        rule("Fine", 130, src=["10.0.0.0/16"], dst="Storage.Test"),
        long,
    )
    shapes = {(f.code, f.rule) for f in found if f.severity == "error"}
    assert shapes == {
        ("tag-in-list", "TagInList"),
        ("mixed-families", "Mixed"),
        ("tag-not-for-nsg", "NotNsg"),
        ("description-too-long", "Long"),
    }
