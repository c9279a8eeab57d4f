from __future__ import annotations

import copy
from pathlib import Path

import pytest

from egress.adapters.datastore import load_file
from egress.core.spec import EgressSpec
from egress.errors import ConflictError, SafetyError
from egress.places.nsg.model import parse_nsg_document
from egress.places.nsg.reconcile import is_managed, plan_apply


def foreign(name: str, priority: int, **props: object) -> dict:
    base = {
        "access": "Deny",
        "direction": "Outbound",
        "priority": priority,
        "protocol": "Tcp",
        "sourceAddressPrefix": "*",
        "sourcePortRange": "*",
        "destinationAddressPrefix": "*",
        "destinationPortRange": "23",
        "description": "organisation policy",
    }
    base.update(props)
    return {"name": name, "properties": base}


def nsg_doc(*rules: dict) -> dict:
    return {"name": "nsg-lockdown", "location": "eastus", "properties": {"securityRules": list(rules)}}


@pytest.fixture(scope="module")
def week(shared_data: Path):
    return load_file(shared_data / "servicetags" / "ServiceTags_Public_20250127.json")


@pytest.fixture(scope="module")
def prev_week(shared_data: Path):
    return load_file(shared_data / "servicetags" / "ServiceTags_Public_20250120.json")


def applied(doc: dict, plan) -> dict:
    out = copy.deepcopy(doc)
    out["properties"]["securityRules"] = [copy.deepcopy(r) for r in plan.rules_after]
    return out


def test_fresh_nsg_gets_creates_around_foreign_priorities(week) -> None:
    doc = nsg_doc(foreign("NRMS-Rule-101", 200))
    plan = plan_apply(
        parse_nsg_document(doc),
        EgressSpec(region="eastus"),
        week,
        raw_rules=doc["properties"]["securityRules"],
    )
    assert [(c.action, c.name, c.priority) for c in plan.changes] == [
        ("create", "egress-storage-eastus", 201),
        ("create", "egress-azurebackup", 202),
        ("create", "egress-azureactivedirectory", 203),
        ("create", "egress-deny-internet", 4096),
    ]
    assert plan.foreign == ("NRMS-Rule-101",)
    # The foreign rule is carried over as the very object that was read.
    assert (
        plan.rules_after[0] is doc["properties"]["securityRules"][0]
        or plan.rules_after[0] == doc["properties"]["securityRules"][0]
    )


def test_second_plan_after_apply_is_empty(week) -> None:
    doc = nsg_doc(foreign("NRMS-Rule-101", 200))
    spec = EgressSpec(option="ip-ranges", region="eastus")
    first = plan_apply(parse_nsg_document(doc), spec, week, raw_rules=doc["properties"]["securityRules"])
    after = applied(doc, first)
    second = plan_apply(parse_nsg_document(after), spec, week, raw_rules=after["properties"]["securityRules"])
    assert second.changes == ()
    assert second.counts()["unchanged"] == len(first.ruleset.rules)


def test_weekly_refresh_updates_only_changed_blocks_and_keeps_priorities(week, prev_week) -> None:
    spec = EgressSpec(option="ip-ranges", tags=("AzureCloud.eastus",))
    doc = nsg_doc(foreign("NRMS-Rule-101", 4000))
    first = plan_apply(parse_nsg_document(doc), spec, prev_week, raw_rules=[])
    after = applied(doc, first)
    second = plan_apply(parse_nsg_document(after), spec, week, raw_rules=after["properties"]["securityRules"])
    assert {c.action for c in second.changes} == {"update"}
    assert [c.name for c in second.changes] == ["egress-azurecloud-eastus-v4-020"]
    fields = {f[0] for c in second.changes for f in c.fields}
    assert "priority" not in fields and "destinationAddressPrefixes" in fields


def test_unchanged_rule_keeps_its_description_when_only_change_numbers_moved(week) -> None:
    spec = EgressSpec(option="ip-ranges", region="eastus")
    doc = nsg_doc()
    first = plan_apply(parse_nsg_document(doc), spec, week, raw_rules=[])
    after = applied(doc, first)
    for rule in after["properties"]["securityRules"]:
        rule["properties"]["description"] = rule["properties"]["description"].replace(" cn", " cn9")
    second = plan_apply(parse_nsg_document(after), spec, week, raw_rules=after["properties"]["securityRules"])
    assert second.changes == ()


def test_foreign_rule_with_our_prefix_but_no_marker_is_never_touched(week) -> None:
    squatter = foreign("egress-storage-eastus", 300, description="hand-made")
    doc = nsg_doc(squatter)
    nsg = parse_nsg_document(doc)
    assert not is_managed(nsg.rules[0], "egress-")
    with pytest.raises(ConflictError, match="egress-storage-eastus already exist.*not egress's"):
        plan_apply(nsg, EgressSpec(region="eastus"), week, raw_rules=[squatter])


def test_managed_rules_no_longer_wanted_are_deleted_and_guarded(week) -> None:
    spec_wide = EgressSpec(option="ip-ranges", region="eastus")
    doc = nsg_doc()
    first = plan_apply(parse_nsg_document(doc), spec_wide, week, raw_rules=[])
    after = applied(doc, first)
    narrow = EgressSpec(region="eastus")
    plan = plan_apply(parse_nsg_document(after), narrow, week, raw_rules=after["properties"]["securityRules"])
    deletes = [c for c in plan.changes if c.action == "delete"]
    assert len(deletes) == len(first.ruleset.rules) - 1  # everything but the deny rule
    with pytest.raises(SafetyError, match=r"deletes \d+ rules, more than --max-deletes 10"):
        plan.check_safety(max_deletes=10, force=False)
    plan.check_safety(max_deletes=10, force=True)


def test_merged_nsg_over_the_limit_names_the_problem(week) -> None:
    big = [
        foreign(
            f"big-{i}",
            300 + i,
            access="Allow",
            destinationAddressPrefix=None,
            destinationAddressPrefixes=[f"10.{i}.{j // 256}.{j % 256}/32" for j in range(1000)],
        )
        for i in range(4)
    ]
    doc = nsg_doc(*big)
    with pytest.raises(Exception, match="4000"):
        plan_apply(
            parse_nsg_document(doc), EgressSpec(option="ip-ranges", region="eastus"), week, raw_rules=big
        )
