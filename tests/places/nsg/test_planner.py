from __future__ import annotations

import json
from pathlib import Path

import pytest

from egress.adapters.datastore import load_file
from egress.core import prefixes
from egress.core.spec import EgressSpec
from egress.errors import RuleError, UnknownTagError, UsageError
from egress.places.nsg.planner import build_rules
from egress.places.nsg.validate import rule_violations
from tests.helpers import assert_golden

GOLDEN = Path(__file__).resolve().parents[2] / "golden" / "plan"


@pytest.fixture(scope="module")
def week(shared_data: Path):
    return load_file(shared_data / "servicetags" / "ServiceTags_Public_20250127.json")


@pytest.fixture(scope="module")
def prev_week(shared_data: Path):
    return load_file(shared_data / "servicetags" / "ServiceTags_Public_20250120.json")


def _arm(ruleset):
    return [r.to_arm() for r in ruleset.rules]


def test_service_tags_default_backup_set(week) -> None:
    rs = build_rules(EgressSpec(region="eastus"), week)
    props = {r["name"]: r["properties"] for r in _arm(rs)}
    assert list(props) == [
        "egress-storage-eastus",
        "egress-azurebackup",
        "egress-azureactivedirectory",
        "egress-deny-internet",
    ]
    storage = props["egress-storage-eastus"]
    assert storage["destinationAddressPrefix"] == "Storage.EastUS"
    assert "destinationAddressPrefixes" not in storage
    assert (storage["access"], storage["direction"], storage["protocol"]) == ("Allow", "Outbound", "Tcp")
    assert storage["destinationPortRange"] == "443" and storage["priority"] == 200
    deny = props["egress-deny-internet"]
    assert (deny["access"], deny["destinationAddressPrefix"], deny["priority"]) == ("Deny", "Internet", 4096)
    assert rule_violations(_arm(rs)) == []


def test_regional_backup_tag_is_refused_without_expand(week) -> None:
    with pytest.raises(RuleError, match=r"AzureBackup\.EastUS: not usable as an NSG service tag"):
        build_rules(EgressSpec(tags=("azurebackup.eastus",)), week)


def test_expand_unusable_falls_back_to_exact_cidrs(week) -> None:
    rs = build_rules(EgressSpec(tags=("Storage.EastUS", "AzureBackup.EastUS"), expand_unusable=True), week)
    tag_rules = [r for r in rs.rules if r.kind == "tag"]
    cidr_rules = [r for r in rs.rules if r.kind == "prefixes"]
    assert [r.destination for r in tag_rules] == [("Storage.EastUS",)]
    allowed = [prefixes.parse_prefix(p) for r in cidr_rules for p in r.destination]
    expected = [prefixes.parse_prefix(p) for p in week.get("AzureBackup.EastUS").prefixes]
    assert prefixes.aggregate(allowed) == prefixes.aggregate(expected)
    assert any("expanded to IP ranges" in n for n in rs.notes)


def test_ip_ranges_allow_exactly_the_union_and_never_mix_families(week) -> None:
    spec = EgressSpec(option="ip-ranges", region="eastus")
    rs = build_rules(spec, week)
    allowed = []
    for rule in rs.rules:
        if rule.kind != "prefixes":
            continue
        parsed = [prefixes.parse_prefix(p) for p in rule.destination]
        assert {p[0] for p in parsed} == {rule.family}
        allowed.extend(parsed)
    union = [
        prefixes.parse_prefix(p)
        for name in ("Storage.EastUS", "AzureBackup", "AzureActiveDirectory")
        for p in week.get(name).prefixes
    ]
    assert prefixes.aggregate(allowed) == prefixes.aggregate(union)
    assert rs.extra_ipv4 == rs.extra_ipv6 == 0 and rs.mode == "exact"
    assert rule_violations(_arm(rs)) == []


def test_weekly_change_touches_only_rules_holding_changed_prefixes(week, prev_week) -> None:
    spec = EgressSpec(option="ip-ranges", tags=("AzureCloud.eastus",))
    before = {r.name: r for r in build_rules(spec, prev_week).rules}
    after = {r.name: r for r in build_rules(spec, week).rules}
    assert set(before) == set(after)
    changed = {n for n in before if before[n].content_key() != after[n].content_key()}
    old = set(prev_week.get("AzureCloud.eastus").prefixes)
    new = set(week.get("AzureCloud.eastus").prefixes)
    moved = {prefixes.parse_prefix(p) for p in old ^ new}
    holding = {
        n
        for n, r in {**before, **after}.items()
        if r.kind == "prefixes"
        and any(prefixes.contains(prefixes.parse_prefix(d), m) for d in r.destination for m in moved)
    }
    assert changed, "the two weeks differ in AzureCloud.eastus"
    assert changed <= holding


def test_over_limit_without_budget_says_how_many_and_what_to_do(week) -> None:
    with pytest.raises(RuleError, match=r"need \d+ destination prefixes.*--max-prefixes"):
        # AzureCloud aggregates to ~2,000 prefixes: too many once other rules already use 3,000 of the 4,000.
        build_rules(
            EgressSpec(option="ip-ranges", tags=("AzureCloud",)), week, reserved_destination_prefixes=3000
        )


def test_budget_fits_and_reports_extra_addresses(week) -> None:
    rs = build_rules(EgressSpec(option="ip-ranges", tags=("AzureCloud",), max_prefixes=1000), week)
    assert rs.mode == "budget"
    assert sum(len(r.destination) for r in rs.rules if r.kind == "prefixes") <= 1000
    assert rs.extra_ipv4 > 0 and rs.extra_ipv6 > 0
    assert any("beyond the tags" in n for n in rs.notes)
    covered = [prefixes.parse_prefix(p) for r in rs.rules if r.kind == "prefixes" for p in r.destination]
    original = [prefixes.parse_prefix(p) for p in week.get("AzureCloud").prefixes]
    assert prefixes.subtract(original, covered) == []
    assert rule_violations(_arm(rs)) == []


def test_proxy_rules_match_the_seed(week) -> None:
    rs = build_rules(EgressSpec(option="proxy", proxy_ip="10.0.0.5", proxy_port=3128), week)
    props = {r["name"]: r["properties"] for r in _arm(rs)}
    seed = props["egress-allow-proxy"]
    assert seed == {
        "access": "Allow",
        "description": seed["description"],
        "destinationAddressPrefix": "Internet",
        "destinationPortRange": "80-443",
        "direction": "Outbound",
        "priority": 200,
        "protocol": "Tcp",
        "sourceAddressPrefix": "10.0.0.5/32",
        "sourcePortRange": "*",
    }
    to_proxy = props["egress-allow-to-proxy"]
    assert (to_proxy["destinationAddressPrefix"], to_proxy["destinationPortRange"]) == ("10.0.0.5/32", "3128")
    assert props["egress-deny-internet"]["priority"] == 4096


def test_proxy_nsg_gets_the_inbound_rule(week) -> None:
    rs = build_rules(EgressSpec(option="proxy", proxy_ip="10.0.0.5", for_nsg="proxy"), week)
    inbound = [r for r in rs.rules if r.direction == "Inbound"]
    assert [(r.name, r.priority, r.destination, r.destination_ports) for r in inbound] == [
        ("egress-allow-vnet-to-proxy", 200, ("10.0.0.5/32",), ("3128",))
    ]


def test_priorities_allocated_around_used_and_kept_when_current(week) -> None:
    spec = EgressSpec(region="eastus")
    rs = build_rules(
        spec, week, used_priorities={"Outbound": [200, 201]}, current={"egress-azurebackup": 250}
    )
    got = {r.name: r.priority for r in rs.rules}
    assert got == {
        "egress-storage-eastus": 202,
        "egress-azurebackup": 250,
        "egress-azureactivedirectory": 203,
        "egress-deny-internet": 4096,
    }


def test_deny_priority_taken_by_someone_else_is_an_error(week) -> None:
    with pytest.raises(RuleError, match="4096"):
        build_rules(EgressSpec(region="eastus"), week, used_priorities={"Outbound": [4096]})


@pytest.mark.parametrize(
    ("spec", "error", "match"),
    [
        (EgressSpec(region="eastuss"), UnknownTagError, "did you mean eastus"),
        (EgressSpec(tags=("Storage.EastUZ",)), UnknownTagError, "did you mean Storage.EastUS"),
        (EgressSpec(), UsageError, "needs --region"),
        (EgressSpec(option="proxy"), UsageError, "needs --proxy-ip"),
        (EgressSpec(option="proxy", proxy_ip="10.0.0.300"), UsageError, "not an IP address"),
        (EgressSpec(option="proxy", proxy_ip="10.0.0.5", proxy_port=0), UsageError, "not a TCP port"),
        (EgressSpec(option="proxy", proxy_ip="10.0.0.5", proxy_port=70000), UsageError, "not a TCP port"),
        (EgressSpec(region="eastus", priority_start=99), UsageError, "outside Azure's range"),
        (EgressSpec(region="eastus", priority_start=4096), UsageError, "outside|below the deny"),
        (EgressSpec(option="ip-ranges", region="eastus", max_prefixes=0), UsageError, "at least 1"),
        (EgressSpec(region="eastus", rule_prefix="-bad"), UsageError, "cannot start an Azure rule name"),
    ],
)
def test_bad_specs(week, spec, error, match) -> None:
    with pytest.raises(error, match=match):
        build_rules(spec, week)


def _golden_text(rs) -> str:
    doc = rs.to_json()
    for key in ("source", "path"):  # machine-independent
        if doc["provenance"].get(key):
            doc["provenance"][key] = Path(doc["provenance"][key]).name
    return json.dumps(doc, indent=2, sort_keys=True) + "\n"


@pytest.mark.parametrize(
    ("name", "spec"),
    [
        ("service-tags-eastus", EgressSpec(region="eastus")),
        ("ip-ranges-eastus", EgressSpec(option="ip-ranges", region="eastus")),
        (
            "ip-ranges-azurecloud-budget",
            EgressSpec(option="ip-ranges", tags=("AzureCloud.eastus",), max_prefixes=40, allow_wide=True),
        ),
        ("proxy", EgressSpec(option="proxy", proxy_ip="10.0.0.5", proxy_port=3128)),
        ("proxy-nsg", EgressSpec(option="proxy", proxy_ip="10.0.0.5", for_nsg="proxy")),
    ],
)
def test_plan_json_golden(week, name: str, spec: EgressSpec) -> None:
    assert_golden(GOLDEN / f"{name}.json", _golden_text(build_rules(spec, week)))


# --- properties of chunking on random data ----------------------------------------------------------------------

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from egress.core.model import Dataset, Provenance, ServiceTag  # noqa: E402
from egress.places.nsg import limits  # noqa: E402

_v4 = st.builds(
    lambda n, ln: (4, n >> (32 - ln) << (32 - ln), ln), st.integers(0, 2**32 - 1), st.integers(8, 32)
)
_v6 = st.builds(
    lambda n, ln: (6, n >> (128 - ln) << (128 - ln), ln), st.integers(0, 2**128 - 1), st.integers(16, 128)
)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.one_of(_v4, _v6), min_size=1, max_size=300))
def test_chunks_never_mix_families_and_allow_exactly_the_tag(items: list) -> None:
    tag = ServiceTag(
        name="Test.Region", region="region", prefixes=tuple(prefixes.format_prefix(p) for p in items)
    )
    dataset = Dataset(provenance=Provenance("Public", 1, "t", "file", ""), tags=(tag,))
    rs = build_rules(EgressSpec(option="ip-ranges", tags=("Test.Region",)), dataset)
    allows = [r for r in rs.rules if r.kind == "prefixes"]
    allowed = []
    for rule in allows:
        parsed = [prefixes.parse_prefix(p) for p in rule.destination]
        assert {p[0] for p in parsed} == {rule.family}
        assert len(parsed) <= limits.MAX_PREFIXES_PER_RULE
        allowed.extend(parsed)
    assert prefixes.aggregate(allowed) == prefixes.aggregate(items)
    assert len({r.name for r in rs.rules}) == len(rs.rules)
    assert rule_violations(_arm(rs)) == []


def test_a_crowded_block_is_split_into_numbered_rules() -> None:
    # 900 non-adjacent /32s inside 20.0.0.0/8: more than one rule can hold.
    items = tuple(f"20.0.{i // 128}.{(i % 128) * 2}/32" for i in range(900))
    tag = ServiceTag(name="Test.Region", region="region", prefixes=items)
    dataset = Dataset(provenance=Provenance("Public", 1, "t", "file", ""), tags=(tag,))
    rs = build_rules(EgressSpec(option="ip-ranges", tags=("Test.Region",)), dataset)
    names = [r.name for r in rs.rules if r.kind == "prefixes"]
    assert names == [
        "egress-test-region-v4-020-1",
        "egress-test-region-v4-020-2",
        "egress-test-region-v4-020-3",
    ]
    assert [len(r.destination) for r in rs.rules if r.kind == "prefixes"] == [400, 400, 100]


def test_the_default_deny_priority_is_the_nsgs_last() -> None:
    # egress.core.spec keeps the number without importing the NSG's limits (other places plan without them).
    from egress.core import spec as spec_module

    assert spec_module.DEFAULT_DENY_PRIORITY == limits.MAX_PRIORITY
