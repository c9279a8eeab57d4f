"""What the places share: item-level changes, the apply plan, safety (--max-deletes), names.

Pure: no I/O. An "item" is what the place writes one of per tag or prefix (a route, a rule).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from egress.core.model import ServiceTag
from egress.core.text_table import table
from egress.errors import SafetyError, UsageError

if TYPE_CHECKING:
    from egress.core.spec import EgressSpec

# egress's own safety default, not Azure's: `apply` and `refresh` refuse plans deleting more items than this.
DEFAULT_MAX_DELETES = 10
# Azure's names for routes, rule collections and rules: 1-80 characters, starting with a letter or digit, ending
# with a letter, digit or `_`, holding letters, digits, `_`, `.` and `-` (the naming rules of Microsoft.Network).
MAX_NAME_LENGTH = 80
NAME = re.compile(r"^[A-Za-z0-9](?:[\w.-]{0,78}\w)?$", re.ASCII)
_DROP = re.compile(r"[^A-Za-z0-9_.-]+")


def item_name(prefix: str, *parts: str) -> str:
    """`<prefix><part>-<part>...`, cut to Azure's 80 characters with a digest keeping it unique."""
    name = prefix + "-".join(_DROP.sub("-", p) for p in parts if p)
    if len(name) > MAX_NAME_LENGTH:
        import hashlib  # only for names cut short: `egress --help` imports this module (DEFAULT_MAX_DELETES)

        digest = hashlib.sha256(name.encode()).hexdigest()[:8]
        name = name[: MAX_NAME_LENGTH - 9].rstrip("-.") + "-" + digest
    return name


def tag_summaries(
    tags: Sequence[ServiceTag], usable_key: str, usable: Callable[[ServiceTag], bool]
) -> tuple[dict[str, Any], ...]:
    """The plan's provenance per tag: name, changeNumber, whether this place may name the tag, prefix count."""
    return tuple(
        {"name": t.name, "changeNumber": t.change_number, usable_key: usable(t), "prefixes": len(t.prefixes)}
        for t in tags
    )


def host_address(text: str, flag: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    """A next hop's address: a NIC or load balancer IP, so never loopback, multicast, link-local, unspecified or
    reserved (255.255.255.255 included); each refusal one UsageError naming the flag."""
    try:
        ip = ipaddress.ip_address(text)
    except ValueError:
        raise UsageError(f"{flag} {text!r} is not an IP address.") from None
    for bad, what in (
        (ip.is_unspecified, "unspecified"),
        (ip.is_loopback, "a loopback address"),
        (ip.is_multicast, "a multicast address"),
        (ip.is_link_local, "link-local"),
        (ip.is_reserved, "a reserved address"),
    ):
        if bad:
            raise UsageError(
                f"{flag} {text} is {what}; give the private IP of the appliance's NIC or load balancer."
            )
    return ip


def prefix_label(text: str) -> str:
    """`20.38.0.0/16` -> `20.38.0.0_16`; `2603:1030::/40` -> `2603.1030.._40` (names take no `/` or `:`)."""
    return text.replace(":", ".").replace("/", "_")


@dataclass(frozen=True, slots=True)
class Change:
    action: str  # create | update | delete
    name: str
    what: str  # e.g. the route's prefix, the rule collection's kind
    fields: tuple[tuple[str, Any, Any], ...] = ()  # (property, before, after) for updates

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"action": self.action, "name": self.name, "what": self.what}
        if self.fields:
            out["changes"] = [{"property": k, "before": b, "after": a} for k, b, a in self.fields]
        return out


def field_diff(before: Mapping[str, Any], after: Mapping[str, Any]) -> tuple[tuple[str, Any, Any], ...]:
    keys = sorted(set(before) | set(after))
    return tuple((k, before.get(k), after.get(k)) for k in keys if before.get(k) != after.get(k))


def diff_items(
    planned: Sequence[tuple[str, str, Mapping[str, Any]]], managed: Mapping[str, Mapping[str, Any]]
) -> tuple[Change, ...]:
    """Changes taking the `managed` items (name -> comparable properties) to `planned` (name, what, props)."""
    changes: list[Change] = []
    for name, what, props in planned:
        existing = managed.get(name)
        if existing is None:
            changes.append(Change("create", name, what))
            continue
        diff = field_diff(existing, props)
        if diff:
            changes.append(Change("update", name, what, diff))
    wanted = {name for name, _, _ in planned}
    for name in sorted(managed):
        if name not in wanted:
            changes.append(Change("delete", name, ""))
    order = {"delete": 0, "update": 1, "create": 2}
    return tuple(sorted(changes, key=lambda c: (order[c.action], c.name)))


@dataclass(frozen=True, slots=True)
class ItemApplyPlan:
    """What applying would do to one route table or rule collection group, and what to write if anything."""

    resource_name: str
    kind: str  # "routes", "rule collections": what the items are, for messages
    changes: tuple[Change, ...]
    ruleset: Any  # the place's planned result (routes or rule collections), with `.notes` and `to_json()`
    foreign: tuple[str, ...]
    planned_count: int
    rules_after: Any = field(repr=False, default=())  # what the target's write takes
    findings: tuple[str, ...] = ()  # foreign items that change what egress's do (longest-prefix match, ...)

    @property
    def has_changes(self) -> bool:
        return bool(self.changes)

    @property
    def nsg_name(self) -> str:  # the name refresh and apply print, whatever the place
        return self.resource_name

    def counts(self) -> dict[str, int]:
        out = {"create": 0, "update": 0, "delete": 0}
        for change in self.changes:
            out[change.action] += 1
        out["unchanged"] = self.planned_count - out["create"] - out["update"]
        out["foreign"] = len(self.foreign)
        return out

    def check_safety(self, *, max_deletes: int, force: bool, dry_run: bool = False) -> None:
        check_deletes(
            self.counts()["delete"], self.kind, max_deletes=max_deletes, force=force, dry_run=dry_run
        )

    def to_json(self) -> dict[str, Any]:
        planned = self.ruleset.to_json()
        return {
            "resource": self.resource_name,
            "changes": [c.to_json() for c in self.changes],
            "findings": list(self.findings),
            "summary": {**self.counts(), "planned": planned["summary"]},
            "provenance": planned["provenance"],
        }


def check_deletes(deletes: int, kind: str, *, max_deletes: int, force: bool, dry_run: bool) -> None:
    if deletes > max_deletes and not force:
        outcome = "so it would be refused" if dry_run else "nothing was written"
        raise SafetyError(
            f"the plan deletes {deletes} {kind}, more than --max-deletes {max_deletes}, {outcome}; "
            "review the changes, then raise --max-deletes or pass --force."
        )


def _details(change: Change) -> str:
    if change.action != "update":
        return change.what
    return "; ".join(f"{k}: {b!r} -> {a!r}" for k, b, a in change.fields)


def plan_text(plan: ItemApplyPlan, label: str) -> str:
    counts = plan.counts()
    lines = []
    if plan.changes:
        rows = [(c.action, c.name, _details(c)) for c in plan.changes]
        lines.append(table(("ACTION", "NAME", "DETAILS"), rows))
    lines.extend(f"warning: {f}\n" for f in plan.findings)
    lines.append(
        f"{label}: {counts['create']} to create, {counts['update']} to update, {counts['delete']} to delete, "
        f"{counts['unchanged']} unchanged; {counts['foreign']} {plan.kind} not egress's left as they are.\n"
    )
    return "".join(lines)


def over_approximation_cost(extra_v4: int, extra_v6: int) -> str:
    """What an over-approximation admits beyond the tags, per family (a v4+v6 sum would mean nothing)."""
    v6 = f"{extra_v6 >> 64:,} /64s" if extra_v6 >= 1 << 64 else f"{extra_v6:,} addresses"
    return f"IPv4 {extra_v4:,} addresses beyond the tags, IPv6 {v6} beyond the tags"


def check_extra(spec: EgressSpec, extra_v4: int, extra_v6: int, exact: int, got: int, *, effect: str) -> None:
    """Refuse a budget cover whose over-approximation passes --max-extra (unless --allow-wide). `effect` says
    what the extra addresses get: "would allow" (NSG rules), "would route" (a route's next hop)."""
    if spec.allow_wide:
        return
    from egress.core.spec import DEFAULT_MAX_EXTRA_V4, DEFAULT_MAX_EXTRA_V6_64S

    limit_v4 = DEFAULT_MAX_EXTRA_V4 if spec.max_extra_v4 is None else spec.max_extra_v4
    limit_v6 = DEFAULT_MAX_EXTRA_V6_64S if spec.max_extra_v6 is None else spec.max_extra_v6
    over = []
    if extra_v4 > limit_v4:
        over.append(f"IPv4 over {limit_v4:,} addresses")
    if extra_v6 > limit_v6 << 64:
        over.append(f"IPv6 over {limit_v6:,} /64s")
    if over:
        cost = over_approximation_cost(extra_v4, extra_v6)
        raise SafetyError(
            f"--max-prefixes {spec.max_prefixes}: covering {exact} prefixes with {got} {effect} {cost} "
            f"({' and '.join(over)}, the --max-extra limit); raise --max-prefixes, use --option service-tags, "
            "raise --max-extra, or pass --allow-wide to accept it."
        )


def logical_lines(text: str, continuation: str) -> Iterator[str]:
    """A rendered script's lines with continued ones joined (`\\` in bash, `` ` `` in PowerShell): what every
    place's readback of an earlier rendering reads."""
    pending = ""
    for line in text.splitlines():
        if line.rstrip().endswith(continuation):
            pending += line.rstrip()[: -len(continuation)] + " "
            continue
        yield pending + line
        pending = ""
    if pending:
        yield pending
