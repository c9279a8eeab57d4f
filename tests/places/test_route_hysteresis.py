"""Budget-mode route tables replayed over Microsoft's real consecutive weeks: last week's routes as the table,
this week's data as the plan. The cover stays complete and within budget and allowance, and the churn is no more
than a cover from scratch and bounded by what changed in the data."""

from __future__ import annotations

from pathlib import Path

import pytest

from egress.adapters.datastore import load_file
from egress.core import prefixes
from egress.core.model import Dataset
from egress.core.selection import used_tags
from egress.core.spec import EgressSpec
from egress.places.route_table.model import parse_route_table
from egress.places.route_table.planner import build_routes, plan_apply

WEEK_PAIRS = [("20240610", "20240617"), ("20250120", "20250127")]
_loaded: dict[str, Dataset] = {}


def _week(shared_data: Path, date: str) -> Dataset:
    if date not in _loaded:
        _loaded[date] = load_file(shared_data / "servicetags" / f"ServiceTags_Public_{date}.json")
    return _loaded[date]


def _required(spec: EgressSpec, dataset: Dataset) -> list[prefixes.Prefix]:
    return prefixes.aggregate(p for t in used_tags(spec, dataset) for p in prefixes.parse_tag_prefixes(t))


def _table(plan) -> dict:
    return {"name": "rt", "properties": {"routes": [r.to_arm() for r in plan.routes]}}


@pytest.mark.parametrize(("before", "after"), WEEK_PAIRS)
@pytest.mark.parametrize("region", ["eastus", "westeurope"])
@pytest.mark.parametrize("budget", [100, 300])
def test_weekly_replay_keeps_the_cover_valid_and_changes_only_what_the_data_changed(
    shared_data: Path, before: str, after: str, region: str, budget: int
) -> None:
    spec = EgressSpec(
        place="route-table", region=region, option="ip-ranges", max_prefixes=budget, allow_wide=True
    )
    old, new = _week(shared_data, before), _week(shared_data, after)
    last_week = build_routes(spec, old)
    assert last_week.mode == "budget"
    table = parse_route_table(_table(last_week), source="rt.json")
    plan = plan_apply(table, spec, new)

    required = _required(spec, new)
    routes = [prefixes.parse_prefix(r.route.address_prefix) for r in plan.ruleset.routes]
    assert len(routes) <= budget
    assert prefixes.subtract(required, routes) == []  # every address of this week's tags takes a route
    fresh = build_routes(spec, new)  # what the plan would be with no table to keep
    fresh_routes = {r.route.address_prefix for r in fresh.routes}
    held = {r.route.address_prefix for r in last_week.routes}
    for extra, optimum in (
        (plan.ruleset.extra_ipv4, fresh.extra_ipv4),
        (plan.ruleset.extra_ipv6, fresh.extra_ipv6),
    ):
        assert (
            optimum <= extra <= optimum + optimum // 4
        )  # within the allowance (the default --max-extra is wider)

    counts = plan.counts()
    assert counts["update"] == 0
    assert counts["create"] + counts["delete"] <= len(fresh_routes - held) + len(held - fresh_routes)
    old_required = _required(spec, old)
    changed = prefixes.aggregate(
        prefixes.subtract(required, old_required) + prefixes.subtract(old_required, required)
    )
    assert counts["delete"] <= 2 * len(changed)
    if not changed:
        assert not plan.has_changes
    kept = [n for n in plan.ruleset.notes if n.startswith("kept ")]
    assert kept and f"of the table's {len(held)} cover routes" in kept[0]


def test_a_week_with_many_new_prefixes_churns_less_than_a_cover_from_scratch(shared_data: Path) -> None:
    # 2024-06-17 added 53 AzureActiveDirectory prefixes: from scratch, eastus at 300 routes replaced 56.
    spec = EgressSpec(
        place="route-table", region="eastus", option="ip-ranges", max_prefixes=300, allow_wide=True
    )
    old, new = _week(shared_data, "20240610"), _week(shared_data, "20240617")
    last_week = build_routes(spec, old)
    held = {r.route.address_prefix for r in last_week.routes}
    fresh = {r.route.address_prefix for r in build_routes(spec, new).routes}
    plan = plan_apply(parse_route_table(_table(last_week), source="rt.json"), spec, new)
    assert len(held - fresh) == 56
    assert plan.counts()["delete"] < 50


def test_kept_routes_keep_their_names_whatever_named_them(shared_data: Path) -> None:
    # A table written in exact mode (routes named after their tag) moved to a budget: the prefixes the cover
    # keeps keep their names, so the change is no rename (delete + create) of the same prefix.
    new = _week(shared_data, "20250127")
    tags = ("Storage.EastUS",)
    exact = build_routes(EgressSpec(place="route-table", option="ip-ranges", tags=tags), new)
    assert exact.mode == "exact" and len(exact.routes) > 50
    spec = EgressSpec(place="route-table", option="ip-ranges", tags=tags, max_prefixes=50, allow_wide=True)
    plan = plan_apply(parse_route_table(_table(exact), source="rt.json"), spec, new)
    by_prefix = {r.route.address_prefix: r.name for r in exact.routes}
    kept = [r for r in plan.ruleset.routes if r.route.address_prefix in by_prefix]
    assert kept and all(r.name == by_prefix[r.route.address_prefix] for r in kept)
    assert all(r.name.startswith("egress-storage-eastus-") for r in kept)
    assert plan.counts()["create"] + len(kept) == len(plan.ruleset.routes)


def test_a_table_whose_tags_fit_again_keeps_the_budget_routes_it_holds(shared_data: Path) -> None:
    # Written with --max-prefixes 50, planned without a budget (the exact prefixes fit): every prefix the table
    # already routes keeps its route under the cover's name; only the over-approximating routes go.
    new = _week(shared_data, "20250127")
    tags = ("Storage.EastUS",)
    budget = build_routes(
        EgressSpec(place="route-table", option="ip-ranges", tags=tags, max_prefixes=50, allow_wide=True), new
    )
    exact_spec = EgressSpec(place="route-table", option="ip-ranges", tags=tags)
    plan = plan_apply(parse_route_table(_table(budget), source="rt.json"), exact_spec, new)
    held = {r.route.address_prefix: r.name for r in budget.routes}
    same = [r for r in plan.ruleset.routes if r.route.address_prefix in held]
    assert same and all(r.name == held[r.route.address_prefix] for r in same)
    counts = plan.counts()
    assert counts["update"] == 0 and counts["unchanged"] == len(same)
    assert counts["delete"] == len(set(held) - {r.route.address_prefix for r in plan.ruleset.routes})
    fresh = build_routes(exact_spec, new)
    assert not any(r.name in held.values() for r in fresh.routes)  # from scratch every one would be renamed
