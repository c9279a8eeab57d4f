"""Plan the routes of one route table: a route per service tag where the data's networkFeatures list `UDR`,
CIDR routes (aggregated exactly, or covered optimally within --max-prefixes) where asked, all to one next hop;
then, against a table as it is, the changes that leave every route not egress's untouched."""

from __future__ import annotations

import hashlib
import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from egress.core import prefixes, stable_cover
from egress.core.model import Dataset, ServiceTag
from egress.core.naming import slug
from egress.core.selection import used_tags
from egress.core.spec import DEFAULT_MAX_EXTRA_V4, DEFAULT_MAX_EXTRA_V6_64S, EgressSpec
from egress.errors import ConflictError, RuleError, UsageError
from egress.places.common import (
    ItemApplyPlan,
    check_extra,
    diff_items,
    host_address,
    item_name,
    prefix_label,
    tag_summaries,
)
from egress.places.route_table import limits
from egress.places.route_table.model import Route, RouteTable, comparable, udr_usable


@dataclass(frozen=True, slots=True)
class PlannedRoute:
    route: Route
    tag: str | None  # the tag the route is for (None: a cover of several tags)
    kind: str  # "tag" | "prefix"
    covers: tuple[str, ...] = field(default=(), compare=False)  # the prefixes it stands for (tag routes)

    @property
    def name(self) -> str:
        return self.route.name

    def to_arm(self) -> dict[str, Any]:
        return self.route.to_arm()


@dataclass(frozen=True, slots=True)
class RoutePlan:
    routes: tuple[PlannedRoute, ...]
    spec: EgressSpec
    provenance: dict[str, Any]
    tags: tuple[dict[str, Any], ...] = ()
    notes: tuple[str, ...] = ()
    mode: str = "tags"  # tags | exact | budget
    extra_ipv4: int = 0
    extra_ipv6: int = 0
    exact_prefixes: int | None = None

    def summary(self) -> dict[str, Any]:
        return {
            "place": "route-table",
            "option": self.spec.option,
            "mode": self.mode,
            "routes": len(self.routes),
            "serviceTagRoutes": sum(1 for r in self.routes if r.kind == "tag"),
            "prefixRoutes": sum(1 for r in self.routes if r.kind == "prefix"),
            "nextHopType": self.spec.next_hop,
            "nextHopIpAddress": self.spec.next_hop_ip,
            "exactPrefixes": self.exact_prefixes,
            "extraIPv4Addresses": self.extra_ipv4,
            "extraIPv6Addresses": self.extra_ipv6,
            "limits": {
                "routesPerTable": limits.MAX_ROUTES_PER_TABLE,
                "serviceTagRoutesPerTable": limits.MAX_SERVICE_TAG_ROUTES_PER_TABLE,
            },
            "notes": list(self.notes),
        }

    def to_json(self) -> dict[str, Any]:
        return {
            "routes": [r.to_arm() for r in self.routes],
            "summary": self.summary(),
            "provenance": {**self.provenance, "tags": list(self.tags)},
        }


def check_spec(spec: EgressSpec, given: dict[str, Any]) -> None:
    """Usage checks of the route table's inputs (each one line, naming the flag)."""
    if spec.option not in ("service-tags", "ip-ranges"):
        raise UsageError(
            f"--place route-table takes --option service-tags or ip-ranges, not {spec.option} "
            "(a route carries no proxy)."
        )
    for key, flag in (
        ("source", "--source"),
        ("priority_start", "--priority-start"),
        ("deny_internet", "--deny-internet"),
        ("proxy_ip", "--proxy-ip"),
        ("proxy_port", "--proxy-port"),
        ("for_nsg", "--for"),
        ("vnet", "--vnet"),
        ("firewall_ip", "--firewall-ip"),
        ("rcg_name", "--rcg-name"),
    ):
        if key in given:
            raise UsageError(
                f"{flag} does not apply to --place route-table (routes match destinations only)."
            )
    hops = {h.lower(): h for h in limits.EGRESS_NEXT_HOPS}
    if spec.next_hop.lower() not in hops:
        raise UsageError(f"--next-hop {spec.next_hop!r}: use {' or '.join(limits.EGRESS_NEXT_HOPS)}.")
    if hops[spec.next_hop.lower()] == "VirtualAppliance":
        if not spec.next_hop_ip:
            raise UsageError("--next-hop VirtualAppliance needs --next-hop-ip (the appliance's private IP).")
        host_address(spec.next_hop_ip, "--next-hop-ip")
    elif spec.next_hop_ip:
        raise UsageError(
            "--next-hop-ip applies only with --next-hop VirtualAppliance (Azure refuses it otherwise)."
        )
    if "max_prefixes" in given and spec.option == "service-tags" and not spec.expand_unusable:
        raise UsageError(
            "--max-prefixes applies to --option ip-ranges (or service-tags with --expand-unusable); "
            "service-tag routes need no budget."
        )
    if spec.max_prefixes is not None and spec.max_prefixes > limits.MAX_ROUTES_PER_TABLE:
        raise UsageError(
            f"--max-prefixes {spec.max_prefixes} exceeds Azure's {limits.MAX_ROUTES_PER_TABLE} routes per route table."
        )


def _next_hop(spec: EgressSpec) -> tuple[str, str | None]:
    hop = {h.lower(): h for h in limits.EGRESS_NEXT_HOPS}[spec.next_hop.lower()]
    return hop, spec.next_hop_ip if hop == "VirtualAppliance" else None


def _parsed(tag: ServiceTag) -> list[prefixes.Prefix]:
    return prefixes.parse_tag_prefixes(tag, RuleError)


def build_routes(
    spec: EgressSpec,
    dataset: Dataset,
    *,
    reserved_routes: int = 0,
    reserved_tag_routes: int = 0,
    existing: Sequence[Route] = (),
) -> RoutePlan:
    """The routes of `spec`; `reserved_*` are what the table's other routes already take of Azure's limits.

    `existing`: egress's routes the table (or an earlier rendering) holds; a budget cover keeps those still
    good enough (egress.core.stable_cover) instead of recomputing the optimum from scratch."""
    check_spec(spec, {})
    tags = list(used_tags(spec, dataset))
    hop, hop_ip = _next_hop(spec)
    notes: list[str] = []
    routes: list[PlannedRoute] = []
    as_prefixes: list[ServiceTag] = []
    if spec.option == "service-tags":
        unusable = [t for t in tags if not udr_usable(t)]
        if unusable and not spec.expand_unusable:
            names = ", ".join(t.name for t in unusable)
            raise RuleError(
                f"{names}: a route cannot name this service tag (its networkFeatures lack UDR; Azure rejects "
                "it); use --expand-unusable to route its IP ranges instead, or --option ip-ranges."
            )
        for tag in tags:
            if udr_usable(tag):
                route = Route(item_name(spec.rule_prefix, slug(tag.name)), tag.name, hop, hop_ip)
                routes.append(PlannedRoute(route, tag.name, "tag", tag.prefixes))
            else:
                as_prefixes.append(tag)
        if as_prefixes:
            notes.append(
                "routed as IP ranges (no UDR in networkFeatures): " + ", ".join(t.name for t in as_prefixes)
            )
    else:
        as_prefixes = tags
    tag_routes = len(routes) + reserved_tag_routes
    if tag_routes > limits.MAX_SERVICE_TAG_ROUTES_PER_TABLE:
        raise RuleError(
            f"the table would hold {tag_routes} service-tag routes ({reserved_tag_routes} of them not egress's), "
            f"over Azure's {limits.MAX_SERVICE_TAG_ROUTES_PER_TABLE} per route table; use fewer --tag or "
            "--option ip-ranges."
        )
    mode, extra, exact = "tags", (0, 0), None
    if as_prefixes:
        budget = limits.MAX_ROUTES_PER_TABLE - reserved_routes - len(routes)
        cidr, mode, extra, exact = _prefix_routes(spec, as_prefixes, hop, hop_ip, budget, notes, existing)
        routes.extend(cidr)
    if not routes:
        raise RuleError("the plan holds no route; check --tag and --region.")
    total = len(routes) + reserved_routes
    if total > limits.MAX_ROUTES_PER_TABLE:
        raise RuleError(
            f"the plan needs {len(routes)} routes ({total} with the table's other routes), over Azure's "
            f"{limits.MAX_ROUTES_PER_TABLE} per route table; use --max-prefixes or service tags."
        )
    tags_info = tag_summaries(tags, "udrUsable", udr_usable)
    return RoutePlan(
        routes=tuple(routes),
        spec=spec,
        provenance=dataset.provenance.to_dict(),
        tags=tags_info,
        notes=tuple(notes),
        mode=mode,
        extra_ipv4=extra[0],
        extra_ipv6=extra[1],
        exact_prefixes=exact,
    )


def _prefix_routes(
    spec: EgressSpec,
    tags: Sequence[ServiceTag],
    hop: str,
    hop_ip: str | None,
    budget: int,
    notes: list[str],
    existing: Sequence[Route] = (),
) -> tuple[list[PlannedRoute], str, tuple[int, int], int | None]:
    family = ipaddress.ip_address(hop_ip).version if hop_ip else None
    per_tag: dict[str, list[prefixes.Prefix]] = {}
    for tag in tags:
        items = _parsed(tag)
        if family is not None:
            kept = [p for p in items if p[0] == family]
            if len(kept) < len(items):
                note = f"IPv{10 - family} prefixes left out: the next hop {hop_ip} is IPv{family}"
                if note not in notes:
                    notes.append(note)
            items = kept
        per_tag[tag.name] = prefixes.aggregate(items)
    union = prefixes.aggregate(p for items in per_tag.values() for p in items)
    limit = min(spec.max_prefixes, budget) if spec.max_prefixes else budget
    if len(union) <= limit:
        # One route per prefix, named after the first tag holding it: a prefix that stays keeps its route.
        routes: list[PlannedRoute] = []
        seen: set[prefixes.Prefix] = set()
        merged = set(union)
        for tag in tags:
            for p in per_tag[tag.name]:
                if p in merged and p not in seen:
                    seen.add(p)
                    text = prefixes.format_prefix(p)
                    name = item_name(spec.rule_prefix, slug(tag.name), prefix_label(text))
                    routes.append(PlannedRoute(Route(name, text, hop, hop_ip), tag.name, "prefix"))
        for p in union:  # prefixes merged across tags belong to no single tag
            if p not in seen:
                text = prefixes.format_prefix(p)
                name = item_name(spec.rule_prefix, "ranges", prefix_label(text))
                routes.append(PlannedRoute(Route(name, text, hop, hop_ip), None, "prefix"))
        routes = _keep_names(routes, _held_prefixes(existing, spec.rule_prefix, family))
        return sorted(routes, key=_route_order), "exact", (0, 0), len(union)
    if spec.max_prefixes is None:
        raise RuleError(
            f"the tags need {len(union)} routes, over the {budget} this route table can still hold (Azure allows "
            f"{limits.MAX_ROUTES_PER_TABLE} per route table); use --max-prefixes N to cover them optimally, "
            "or service tags."
        )
    held = _held_prefixes(existing, spec.rule_prefix, family)
    try:
        result = stable_cover.stable_budget_cover(
            union,
            limit,
            held,
            v4_weight=prefixes.IPV4_ADDRESS_AS_IPV6_SUBNET,
            limit_ipv4=None if spec.allow_wide else _max_extra_v4(spec),
            limit_ipv6=None if spec.allow_wide else _max_extra_v6(spec),
        )
    except ValueError as exc:
        raise UsageError(f"--max-prefixes {limit}: {exc}") from None
    extra_ipv4, extra_ipv6 = result.extra_ipv4, result.extra_ipv6
    # Over-approximated addresses take the route too: next hop Internet sends them past the appliance.
    check_extra(spec, extra_ipv4, extra_ipv6, len(union), len(result.prefixes), effect="would route")
    if extra_ipv4 or extra_ipv6:
        notes.append(
            f"over-approximated {len(union)} prefixes into {len(result.prefixes)} routes: {extra_ipv4} "
            f"IPv4 and {extra_ipv6} IPv6 addresses beyond the tags take this route too"
        )
    if held:
        creates, deletes = result.changes(held)
        fresh_creates, fresh_deletes = result.fresh_changes(held)
        notes.append(
            f"kept {len(result.kept)} of the table's {len(held)} cover routes ({creates} new, {deletes} gone; "
            f"a cover from scratch: {fresh_creates} new, {fresh_deletes} gone)"
        )
    digest = hashlib.sha256(",".join(f"{t.name}:{t.change_number}" for t in tags).encode()).hexdigest()[:6]
    routes = [
        PlannedRoute(
            Route(held.get(p) or _cover_name(spec.rule_prefix, p), prefixes.format_prefix(p), hop, hop_ip),
            None,
            "prefix",
        )
        for p in result.prefixes
    ]
    notes.append(f"cover of {', '.join(t.name for t in tags)} (set {digest})")
    mode = "budget" if extra_ipv4 or extra_ipv6 else "exact"
    return sorted(routes, key=_route_order), mode, (extra_ipv4, extra_ipv6), len(union)


def _keep_names(routes: list[PlannedRoute], held: dict[prefixes.Prefix, str]) -> list[PlannedRoute]:
    """A prefix the table already routes under another of egress's names keeps that route (no rename, which
    Azure would take as a delete and a create), unless the name is one this plan gives another route."""
    if not held:
        return routes
    taken = {r.name.lower() for r in routes}
    out: list[PlannedRoute] = []
    for r in routes:
        name = held.get(prefixes.parse_prefix(r.route.address_prefix))
        if name is not None and name != r.name and name.lower() not in taken:
            r = replace(r, route=replace(r.route, name=name))
        out.append(r)
    return out


def _cover_name(rule_prefix: str, p: prefixes.Prefix) -> str:
    return item_name(rule_prefix, "ranges", prefix_label(prefixes.format_prefix(p)))


def _max_extra_v4(spec: EgressSpec) -> int:
    return DEFAULT_MAX_EXTRA_V4 if spec.max_extra_v4 is None else spec.max_extra_v4


def _max_extra_v6(spec: EgressSpec) -> int:
    return (DEFAULT_MAX_EXTRA_V6_64S if spec.max_extra_v6 is None else spec.max_extra_v6) << 64


def _held_prefixes(
    existing: Sequence[Route], rule_prefix: str, family: int | None
) -> dict[prefixes.Prefix, str]:
    """egress's CIDR routes a cover may keep, prefix -> the route's name (its identity in Azure). A route named
    as the cover names another prefix (edited by hand) is left to be replaced: keeping it would clash by name."""
    held: dict[prefixes.Prefix, str] = {}
    for route in sorted(existing, key=lambda r: r.name):
        if not is_managed(route, rule_prefix) or route.is_tag:
            continue
        try:
            p = prefixes.parse_prefix(route.address_prefix)
        except ValueError:
            continue
        if family is not None and p[0] != family:
            continue
        cover = item_name(rule_prefix, "ranges") + "-"
        if route.name.lower().startswith(cover.lower()) and route.name != _cover_name(rule_prefix, p):
            continue
        if p not in held or route.name == _cover_name(rule_prefix, p):
            held[p] = route.name
    return held


def _route_order(route: PlannedRoute) -> tuple[int, tuple[int, int, int] | str]:
    if route.kind == "tag":
        return 0, route.name
    return 1, prefixes.parse_prefix(route.route.address_prefix)


# --- against a route table as it is -------------------------------------------------------------------------


def is_managed(route: Route, rule_prefix: str) -> bool:
    """Routes carry no description in Azure's API: egress's routes are those named with its prefix."""
    return route.name.startswith(rule_prefix)


def _network(text: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    try:
        return ipaddress.ip_network(text, strict=False)
    except ValueError:
        return None


def _findings(
    foreign: Sequence[Route], planned: Sequence[PlannedRoute], hop: str, hop_ip: str | None
) -> list[str]:
    """Foreign routes more specific than egress's that send part of a tag elsewhere (they win by longest
    prefix match); reported, never changed."""
    out: list[str] = []
    for other in foreign:
        net = _network(other.address_prefix)
        if net is None or (other.next_hop_type, other.next_hop_ip) == (hop, hop_ip):
            continue
        for mine in planned:
            covered = mine.covers if mine.kind == "tag" else (mine.route.address_prefix,)
            hit = next(
                (
                    c
                    for c in covered
                    if (cn := _network(c)) is not None
                    and cn.version == net.version
                    and net.prefixlen > cn.prefixlen
                    and net.subnet_of(cn)  # type: ignore[arg-type]
                ),
                None,
            )
            if hit is not None:
                target = other.next_hop_type + (f" {other.next_hop_ip}" if other.next_hop_ip else "")
                out.append(
                    f"route {other.name} ({other.address_prefix} -> {target}) is more specific than egress's "
                    f"{mine.name} ({hit} of {mine.tag or mine.route.address_prefix}) and wins by longest prefix "
                    "match: that part does not take egress's route"
                )
                break
    return out


def plan_apply(table: RouteTable, spec: EgressSpec, dataset: Dataset) -> ItemApplyPlan:
    foreign = [r for r in table.routes if not is_managed(r, spec.rule_prefix)]
    managed = {r.name: r for r in table.routes if is_managed(r, spec.rule_prefix)}
    planned = build_routes(
        spec,
        dataset,
        reserved_routes=len(foreign),
        reserved_tag_routes=sum(1 for r in foreign if r.is_tag),
        existing=list(managed.values()),
    )
    label = table.name or "the route table"
    mine = {r.route.address_prefix.lower(): r.name for r in planned.routes}
    clashes = [f"{r.name} ({r.address_prefix})" for r in foreign if r.address_prefix.lower() in mine]
    if clashes:
        raise ConflictError(
            f"route(s) {', '.join(clashes)} in {label} are not egress's but have the prefix of egress's routes; "
            "two routes with one prefix conflict: remove or rename them (egress never changes them)."
        )
    names = {r.name.lower() for r in foreign}
    taken = [r.name for r in planned.routes if r.name.lower() in names]
    if taken:
        raise ConflictError(
            f"route(s) {', '.join(taken)} already exist in {label}; choose another --rule-prefix."
        )
    hop, hop_ip = _next_hop(spec)
    findings = _findings(foreign, planned.routes, hop, hop_ip)
    changes = diff_items(
        [(r.name, r.route.address_prefix, comparable(r.route)) for r in planned.routes],
        {name: comparable(r) for name, r in managed.items()},
    )
    raw_by_name = {str(r.get("name")): r for r in table.raw_routes}
    after = [raw_by_name.get(r.name) or r.to_arm() for r in foreign]
    for p in planned.routes:
        existing = managed.get(p.name)
        if existing is not None and comparable(existing) == comparable(p.route) and p.name in raw_by_name:
            after.append(raw_by_name[p.name])  # unchanged: written back as read
        else:
            after.append(p.to_arm())
    return ItemApplyPlan(
        resource_name=table.name,
        kind="routes",
        changes=changes,
        ruleset=planned,
        foreign=tuple(sorted(r.name for r in foreign)),
        planned_count=len(planned.routes),
        rules_after=tuple(after),
        findings=tuple(findings),
    )
