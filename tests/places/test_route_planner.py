"""The route table planner on real data: covers, limits, next hops, ownership (Hypothesis for the cover)."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from egress.core import prefixes
from egress.core.spec import EgressSpec
from egress.errors import ConflictError, RuleError
from egress.places.route_table import limits
from egress.places.route_table.model import parse_route_table
from egress.places.route_table.planner import build_routes, plan_apply
from tests.places.nsg.nsg_cases import data_file, week


@pytest.fixture(scope="module")
def dataset(shared_data: Path):
    return week(str(data_file(shared_data)))


def spec(**kw) -> EgressSpec:
    return EgressSpec(place="route-table", region="eastus", **kw)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(budget=st.integers(min_value=2, max_value=limits.MAX_ROUTES_PER_TABLE))  # 2: one per address family
def test_any_budget_covers_every_prefix_within_the_budget(shared_data: Path, budget: int) -> None:
    dataset = week(str(data_file(shared_data)))
    plan = build_routes(
        spec(option="ip-ranges", tags=("AzureCloud.eastus",), max_prefixes=budget, allow_wide=True), dataset
    )
    routes = [prefixes.parse_prefix(r.route.address_prefix) for r in plan.routes]
    assert 0 < len(routes) <= budget
    for text in dataset.get("AzureCloud.eastus").prefixes:
        p = prefixes.parse_prefix(text)
        assert any(prefixes.contains(r, p) for r in routes), text
    assert len({r.name for r in plan.routes}) == len(plan.routes)


def test_exact_routes_are_the_aggregated_prefixes_named_after_their_tag(dataset) -> None:
    plan = build_routes(spec(option="ip-ranges", tags=("AzureBackup.EastUS",)), dataset)
    union = prefixes.aggregate(prefixes.parse_prefix(p) for p in dataset.get("AzureBackup.EastUS").prefixes)
    assert sorted(prefixes.parse_prefix(r.route.address_prefix) for r in plan.routes) == sorted(union)
    assert all(r.name.startswith("egress-azurebackup-eastus-") and len(r.name) <= 80 for r in plan.routes)


def test_appliance_next_hop_keeps_only_its_family(dataset) -> None:
    plan = build_routes(
        spec(
            option="ip-ranges",
            tags=("AzureBackup.EastUS",),
            next_hop="VirtualAppliance",
            next_hop_ip="10.0.1.4",
        ),
        dataset,
    )
    assert all(":" not in r.route.address_prefix and r.route.next_hop_ip == "10.0.1.4" for r in plan.routes)
    assert any("IPv6 prefixes left out" in n for n in plan.notes)


def test_service_tag_route_limit_counts_the_tables_other_tag_routes(dataset) -> None:
    with pytest.raises(RuleError, match="27 service-tag routes .24 of them not egress's., over Azure's 25"):
        build_routes(spec(), dataset, reserved_tag_routes=24)


def test_foreign_route_with_egress_name_is_a_conflict(dataset) -> None:
    table = parse_route_table(
        {"name": "rt", "properties": {"routes": [
            {"name": "EGRESS-AZUREBACKUP", "properties": {"addressPrefix": "10.0.0.0/8", "nextHopType": "None"}}
        ]}},
        source="rt.json",
    )  # fmt: skip
    # Azure's names are case-insensitive: a foreign route spelled in capitals holds egress's name.
    with pytest.raises(ConflictError, match="egress-azurebackup already exist"):
        plan_apply(table, spec(rule_prefix="egress-"), dataset)
