"""Fleet helpers for `refresh` (and `apply --config`): expand `discover` entries into targets, and decide from a
Resource Graph row whether a target is already at its plan.

Graph lags ARM by seconds to minutes, so a row only ever decides "skip" or "read": a target whose Graph rules
already equal its plan is `unchanged` without a GET; any other target is read with a GET and written with the
If-Match PUT exactly as without Graph. A stale row can therefore cost a missed no-op (an extra GET) or leave
a change for the next run, never a foreign rule or an unguarded write.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from egress.core.discovery import (
    FIREWALL_POLICY_TYPE,
    NOUN_OF_TYPE,
    NSG_TYPE,
    ROUTE_TABLE_TYPE,
    discovered,
    graph_document,
    graph_rules,
)
from egress.core.model import Dataset
from egress.core.spec import EgressSpec, TargetConfig
from egress.errors import EgressError, UsageError
from egress.places.nsg.reconcile import ApplyPlan, failed_state, plan_apply

Say = Callable[[str], None]


@dataclass(frozen=True, slots=True)
class Expanded:
    config: TargetConfig
    row: Mapping[str, Any] | None = None  # the Graph row the target was found in
    error: EgressError | None = None  # discovery failed: reported under the entry's name
    listed_row: Mapping[str, Any] | None = None  # Graph's copy of a listed NSG (see with_graph_rows)

    @property
    def graph_row(self) -> Mapping[str, Any] | None:
        return self.row if self.row is not None else self.listed_row


def expand_targets(
    targets: Sequence[TargetConfig], session: Any, arm_endpoint: str | None, say: Say
) -> tuple[list[Expanded], list[str]]:
    """Listed targets as they are; each `discover` entry replaced by the NSGs it finds (sorted by name). Also
    the run's notes (what each entry found, at how many Graph requests)."""
    out: list[Expanded] = []
    notes: list[str] = []
    for tc in targets:
        if tc.discover is None:
            out.append(Expanded(tc))
            continue
        from egress.adapters import azure
        from egress.adapters.azure.discovery import discover_rows

        try:
            endpoint = azure.resolve_endpoint(tc.spec.cloud, arm_endpoint)
            found = discover_rows(session, endpoint, tc.discover)
        except EgressError as exc:
            out.append(Expanded(tc, error=exc))
            continue
        entry = tc.name.split("/", 1)[0]
        rcg = tc.spec.rcg_name if tc.discover.type == FIREWALL_POLICY_TYPE else None
        entries = discovered(entry, found.rows, rcg)
        if tc.name != entry:  # one NSG of the entry was asked for by name
            entries = [e for e in entries if e[0].lower() == tc.name.lower()]
        note = (
            f"{tc.name}: Resource Graph found {len(entries)} {tc.discover.noun}(s) in "
            f"{', '.join(str(s) for s in tc.discover.scopes)} ({found.requests} request(s))"
        )
        seen = {str(r.get("subscriptionId", "")).lower() for r in found.rows}
        quiet = [s for s in tc.discover.subscriptions if s not in seen]
        if quiet:  # Graph shows only what the identity may read: an unreadable subscription looks empty
            note += (
                f"; nothing in subscription(s) {', '.join(quiet)} (none tagged there, or the signed-in identity "
                "cannot read it)"
            )
        say(note)
        notes.append(note)
        out += [
            Expanded(replace(tc, name=name, target=target, discover=None), row)
            for name, target, row in entries
        ]
    return _one_owner(out), notes


def _one_owner(expanded: list[Expanded]) -> list[Expanded]:
    """A found NSG that a listed entry (or another discover entry) already manages with a rule prefix that
    starts, or is started by, this one's would have each delete the other's rules: it becomes an error."""

    def key(e: Expanded) -> str:
        return e.config.target.strip().lower().removeprefix("azure:").rstrip("/")

    # Listed targets first (the config already checked them against each other), whatever the entries' order.
    owners: dict[str, list[TargetConfig]] = {}
    for e in expanded:
        if e.row is None and e.config.target:
            owners.setdefault(key(e), []).append(e.config)
    out = []
    for e in expanded:
        if e.error is not None or e.row is None:
            out.append(e)
            continue
        mine = e.config.spec.rule_prefix
        clash = next(
            (
                t
                for t in owners.get(key(e), [])
                if mine.startswith(t.spec.rule_prefix) or t.spec.rule_prefix.startswith(mine)
            ),
            None,
        )
        if clash is not None:
            message = (
                f"{e.config.target} is also managed by {clash.name!r} with rule prefix "
                f"{clash.spec.rule_prefix!r}; each would delete the other's rules: give one its own "
                "`rule_prefix`, or remove the NSG's tag."
            )
            out.append(replace(e, error=UsageError(message)))
            continue
        owners.setdefault(key(e), []).append(e.config)
        out.append(e)
    return out


def _listed(e: Expanded) -> tuple[str, str] | None:
    """(Graph type, lower-case resource id) of a listed NSG or route table target on Azure, else None (files,
    firewall policies, typos: those keep their own path and their own error)."""
    if e.row is not None or e.error is not None or e.config.discover is not None:
        return None
    if not e.config.target.strip().lower().startswith(("azure:", "/subscriptions/")):
        return None
    try:
        if e.config.spec.place == "nsg":
            from egress.adapters.azure.target import parse_nsg_id

            return NSG_TYPE, parse_nsg_id(e.config.target).resource_id.lower()
        if e.config.spec.place == "route-table":
            from egress.adapters.azure.resource_ids import parse_route_table_id

            return ROUTE_TABLE_TYPE, parse_route_table_id(e.config.target).resource_id.lower()
    except EgressError:
        return None
    return None


def with_graph_rows(
    expanded: list[Expanded], session: Any, arm_endpoint: str | None, say: Say
) -> tuple[list[Expanded], list[str]]:
    """Listed NSG and route table targets with Graph's copy of each (one query per 1,000 ids per cloud and type),
    so a no-op run reads none of them. Graph failing costs only the no-op: every listed target is then read
    with a GET."""
    from egress.adapters import azure

    wanted: dict[tuple[str, str], list[str]] = {}
    for e in expanded:
        listed = _listed(e)
        if listed is not None:
            wanted.setdefault((e.config.spec.cloud, listed[0]), []).append(listed[1])
    rows: dict[str, Mapping[str, Any]] = {}
    notes: list[str] = []
    for (cloud, resource_type), ids in wanted.items():
        from egress.adapters.azure.discovery import listed_rows

        noun = NOUN_OF_TYPE[resource_type]
        try:
            found = listed_rows(session, azure.resolve_endpoint(cloud, arm_endpoint), ids, resource_type)
        except EgressError as exc:
            note = (
                f"Resource Graph could not be read for the {len(ids)} listed {noun}(s) ({exc}); each is read "
                "with a GET"
            )
        else:
            rows.update({str(r.get("id", "")).rstrip("/").lower(): r for r in found.rows})
            shown = sum(1 for i in set(ids) if i in rows)
            note = (
                f"Resource Graph showed {shown} of {len(set(ids))} listed {noun}(s) ({found.requests} "
                "request(s)); the others are read with a GET"
            )
        say(note)
        notes.append(note)
    out = []
    for e in expanded:
        listed = _listed(e)
        rid = listed[1] if listed is not None else None
        out.append(replace(e, listed_row=rows.get(rid)) if rid is not None and rid in rows else e)
    return out, notes


class _Plans:
    """Plans by (settings, data, rule or route contents): a fleet's NSGs and route tables mostly hold the same
    rules, so a thousand no-op targets plan a handful of times (a budget-mode route table plan costs ~0.3 s).
    Etags and provisioning states differ per resource and do not change a plan, so they are left out of the
    key; only a plan without changes is ever used from here (any other target is read from ARM)."""

    LIMIT = 1024

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._memo: dict[tuple[Any, ...], tuple[Dataset, Any]] = {}

    def get(self, items: Sequence[Any], spec: EgressSpec, dataset: Dataset, plan: Callable[[], Any]) -> Any:
        content = json.dumps([_plain(r) for r in items], sort_keys=True, default=str)
        key = (spec, id(dataset), content)
        with self._lock:
            hit = self._memo.get(key)
        if hit is not None and hit[0] is dataset:
            return hit[1]
        planned = plan()
        with self._lock:
            if len(self._memo) >= self.LIMIT:
                self._memo.clear()
            self._memo[key] = (dataset, planned)
        return planned


def _plain(rule: Any) -> Any:
    if not isinstance(rule, Mapping):
        return rule
    props = rule.get("properties")
    if isinstance(props, Mapping):
        props = {k: v for k, v in props.items() if k != "provisioningState"}
    return [rule.get("name"), props]


def _plan(
    row: Mapping[str, Any], rules: Sequence[Any], spec: EgressSpec, dataset: Dataset, label: str
) -> ApplyPlan | None:
    from egress.places.nsg.model import parse_nsg_document

    try:
        nsg = parse_nsg_document(graph_document(row, rules), source=f"{label} (Resource Graph)")
        return plan_apply(nsg, spec, dataset, raw_rules=[dict(r) for r in rules])
    except EgressError:
        return None  # whatever Graph shows that egress cannot plan on, ARM's own answer decides


_PLANS = _Plans()


def _route_table_plan(row: Mapping[str, Any], spec: EgressSpec, dataset: Dataset, label: str) -> Any:
    """The route table plan on Graph's copy (its `routes` column), or None to read ARM's."""
    routes = row.get("routes")
    if not isinstance(routes, list):
        return None
    from egress.places.route_table.model import parse_route_table
    from egress.places.route_table.planner import plan_apply as plan_routes

    doc = {"id": row.get("id"), "name": row.get("name"), "location": row.get("location")}
    try:
        table = parse_route_table(
            {**doc, "properties": {"routes": routes}}, source=f"{label} (Resource Graph)"
        )
        return plan_routes(table, spec, dataset)
    except EgressError:
        return None


def unchanged_by_graph(
    row: Mapping[str, Any], spec: EgressSpec, dataset: Dataset, label: str
) -> ApplyPlan | None:
    """The plan against the Graph row when it changes nothing (the target needs no GET), else None. NSGs and
    route tables (Graph holds their rules/routes); firewall policies' rule collection groups are not in Graph."""
    if str(row.get("provisioningState") or "Succeeded") != "Succeeded":
        return None  # a resource left Failed (or mid-write) is read, and repaired if it needs it
    if spec.place == "route-table":
        routes = row.get("routes")
        if not isinstance(routes, list):
            return None
        planned = _PLANS.get(routes, spec, dataset, lambda: _route_table_plan(row, spec, dataset, label))
        return None if planned is None or planned.has_changes else planned
    if spec.place != "nsg":
        return None
    rules = graph_rules(row)
    if rules is None or failed_state({"properties": {"securityRules": rules}}) is not None:
        return None
    plan = _PLANS.get(rules, spec, dataset, lambda: _plan(row, rules, spec, dataset, label))
    return None if plan is None or plan.has_changes else plan
