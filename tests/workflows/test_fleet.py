"""Fleet helpers without Azure: one owner per NSG across listed and discovered targets, and the Graph-row
decision (skip only when the plan on Graph's copy changes nothing)."""

from __future__ import annotations

from pathlib import Path

import pytest

from egress.adapters.datastore import load_file
from egress.core.spec import EgressSpec, TargetConfig
from egress.errors import UsageError
from egress.places.nsg.model import parse_nsg_document
from egress.places.nsg.reconcile import plan_apply
from egress.workflows.fleet import Expanded, _one_owner, unchanged_by_graph

RID = "/subscriptions/0b1f6471-1bf0-4dda-aec3-cb9272f09590/resourceGroups/rg/providers/Microsoft.Network/networkSecurityGroups/n"
SPEC = EgressSpec(option="service-tags", region="eastus").validated()


def row(rules: list[dict]) -> dict:
    return {
        "id": RID,
        "name": "n",
        "location": "eastus",
        "securityRules": rules,
    }  # the discovery query's columns


def test_a_found_nsg_already_listed_with_a_clashing_prefix_is_an_error_whatever_the_order() -> None:
    found = Expanded(TargetConfig("all/x/rg/n", "azure:" + RID, SPEC), row([]))
    listed = TargetConfig("listed", "AZURE:" + RID.lower(), SPEC)
    for order in ([found, Expanded(listed)], [Expanded(listed), found]):
        out = {e.config.name: e for e in _one_owner(order)}
        assert out["listed"].error is None
        assert isinstance(out["all/x/rg/n"].error, UsageError) and "also managed by 'listed'" in str(
            out["all/x/rg/n"].error
        )
    other_prefix = TargetConfig(
        "listed",
        "azure:" + RID,
        EgressSpec(option="service-tags", region="eastus", rule_prefix="ops-").validated(),
    )
    assert all(e.error is None for e in _one_owner([found, Expanded(other_prefix)]))


@pytest.fixture(scope="module")
def dataset(shared_data: Path):
    return load_file(shared_data / "servicetags" / "ServiceTags_Public_20250127.json")


def test_graph_row_decides_skip_only_when_nothing_changes(dataset) -> None:
    empty = parse_nsg_document({"name": "n", "properties": {"securityRules": []}}, source="x")
    rules = [dict(r) for r in plan_apply(empty, SPEC, dataset, raw_rules=[]).rules_after]
    for i, r in enumerate(rules):  # Graph's copy carries per-NSG etags and states: they do not matter
        r["etag"] = f'W/"{i}"'
        r.setdefault("properties", {})["provisioningState"] = "Succeeded"
    assert unchanged_by_graph(row(rules), SPEC, dataset, "n") is not None
    assert unchanged_by_graph(row(rules[:-1]), SPEC, dataset, "n") is None  # a rule missing: read it
    assert unchanged_by_graph({"id": RID, "name": "n"}, SPEC, dataset, "n") is None  # no rules shown: read it
    clash = [dict(rules[0], properties=dict(rules[0]["properties"], description="not ours"))]
    assert unchanged_by_graph(row(clash), SPEC, dataset, "n") is None  # cannot plan on it: ARM decides
    failed = dict(row(rules), provisioningState="Failed")  # left Failed by a write: read it, and repair it
    assert unchanged_by_graph(failed, SPEC, dataset, "n") is None
    one_failed = [dict(r, properties=dict(r["properties"])) for r in rules]
    one_failed[0]["properties"]["provisioningState"] = "Failed"
    assert unchanged_by_graph(row(one_failed), SPEC, dataset, "n") is None


def test_route_tables_holding_the_same_routes_plan_once(dataset, monkeypatch: pytest.MonkeyPatch) -> None:
    """A budget-mode route table plan costs a fraction of a second: a fleet of tables Graph shows with the same
    routes plans once per run (and per data), whatever their ids and etags."""
    import egress.workflows.fleet as fleet
    from egress.places.route_table.model import parse_route_table
    from egress.places.route_table.planner import plan_apply as plan_routes

    spec = EgressSpec(
        place="route-table", option="ip-ranges", region="eastus", max_prefixes=50, allow_wide=True
    ).validated()
    table = parse_route_table({"name": "rt", "properties": {"routes": []}}, source="x")
    routes = [dict(r) for r in plan_routes(table, spec, dataset).rules_after]
    calls: list[str] = []
    real = fleet._route_table_plan

    def counting(row, *args):
        calls.append(row["id"])
        return real(row, *args)

    monkeypatch.setattr(fleet, "_route_table_plan", counting)
    monkeypatch.setattr(fleet, "_PLANS", fleet._Plans())
    for i in range(5):
        rid = RID.replace("networkSecurityGroups/n", f"routeTables/rt-{i}")
        copies = [dict(r, id=f"{rid}/routes/{r['name']}", etag=f'W/"{i}"') for r in routes]
        found = {"id": rid, "name": f"rt-{i}", "location": "eastus", "routes": copies}
        assert unchanged_by_graph(found, spec, dataset, rid) is not None
    assert len(calls) == 1
