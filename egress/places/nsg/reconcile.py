"""Plan a change to one NSG: egress's desired rules against what the NSG holds, never touching foreign rules.

A rule is egress's ("managed") when its name starts with the rule prefix AND its description starts with the
marker of that exact prefix: `[egress]` for the default `egress-`, `[egress:<prefix>]` for any other. Everything
else is foreign: kept exactly as read, its priorities and its share of Azure's limits reserved before egress
allocates anything. A bare `[egress]` under another prefix was written before owners were recorded: egress
adopts such a rule (recording its owner) when its plan has that very name, and never deletes it otherwise.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from egress.core.model import Dataset
from egress.core.naming import MARKER
from egress.core.spec import EgressSpec
from egress.errors import ConflictError, SafetyError
from egress.places.nsg.model import Nsg, SecurityRule
from egress.places.nsg.planner import RuleSet, build_rules
from egress.places.nsg.rules import PlannedRule, owner_marker, recorded_owner
from egress.places.nsg.validate import rule_violations

OWNED, LEGACY, FOREIGN = "owned", "legacy", "foreign"
FAILED = "Failed"  # Azure's provisioningState after a write whose operation failed


def ownership(rule: SecurityRule, rule_prefix: str) -> str:
    """OWNED by `rule_prefix`, LEGACY (a bare marker under a non-default prefix) or FOREIGN."""
    if not rule_prefix or not rule.name.startswith(rule_prefix):
        return FOREIGN
    owner = recorded_owner(rule.description)
    if owner is None:
        return FOREIGN
    prefix, explicit = owner
    if prefix == rule_prefix:
        return OWNED
    return FOREIGN if explicit else LEGACY


def is_managed(rule: SecurityRule, rule_prefix: str) -> bool:
    return ownership(rule, rule_prefix) == OWNED


def failed_state(document: Mapping[str, Any]) -> str | None:
    """Why an NSG read from Azure needs writing again although its rules match: a Failed provisioningState."""
    props = document.get("properties")
    if not isinstance(props, Mapping):
        return None
    if props.get("provisioningState") == FAILED:
        return "the NSG's provisioningState is Failed (its last write failed)"
    rules = props.get("securityRules")
    names = sorted(
        str(r.get("name"))
        for r in (rules if isinstance(rules, list) else [])
        if isinstance(r, Mapping)
        and isinstance(r.get("properties"), Mapping)
        and r["properties"].get("provisioningState") == FAILED
    )
    if names:
        return f"rule(s) {', '.join(names[:5])} have provisioningState Failed"
    return None


@dataclass(frozen=True, slots=True)
class RuleChange:
    action: str  # create | update | delete
    name: str
    direction: str
    priority: int
    fields: tuple[tuple[str, Any, Any], ...] = ()  # (property, before, after) for updates

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "action": self.action,
            "name": self.name,
            "direction": self.direction,
            "priority": self.priority,
        }
        if self.fields:
            out["changes"] = [{"property": k, "before": b, "after": a} for k, b, a in self.fields]
        return out


@dataclass(frozen=True, slots=True)
class ApplyPlan:
    """What applying would do to one NSG, and the full rule list to write if anything changes."""

    nsg_name: str
    changes: tuple[RuleChange, ...]
    ruleset: RuleSet
    foreign: tuple[str, ...]
    # The NSG's rule list after the change: foreign and unchanged rules as read (raw objects), then egress's
    # changed ones in ARM shape.
    rules_after: tuple[dict[str, Any], ...] = field(repr=False, default=())
    repair: str | None = None  # why the NSG must be written again although no rule changes (a Failed state)

    @property
    def has_changes(self) -> bool:
        return bool(self.changes) or self.repair is not None

    def counts(self) -> dict[str, int]:
        out = {"create": 0, "update": 0, "delete": 0}
        for change in self.changes:
            out[change.action] += 1
        out["unchanged"] = sum(1 for r in self.ruleset.rules) - out["create"] - out["update"]
        out["foreign"] = len(self.foreign)
        if self.repair is not None:
            out["repair"] = 1
        return out

    def check_safety(self, *, max_deletes: int, force: bool, dry_run: bool = False) -> None:
        deletes = self.counts()["delete"]
        if deletes > max_deletes and not force:
            # A dry run already is the review: it says the write would be refused, not to do a dry run.
            outcome = "so it would be refused" if dry_run else "nothing was written"
            raise SafetyError(
                f"the plan deletes {deletes} rules, more than --max-deletes {max_deletes}, {outcome}; "
                "review the changes, then raise --max-deletes or pass --force."
            )

    def to_json(self) -> dict[str, Any]:
        return {
            "nsg": self.nsg_name,
            "changes": [c.to_json() for c in self.changes],
            "summary": {**self.counts(), **{"rules": self.ruleset.summary()}},
            "provenance": self.ruleset.to_json()["provenance"],
            "repair": self.repair,
        }


def _comparable(props: Mapping[str, Any]) -> dict[str, Any]:
    """Properties that define a rule, with Azure's empty lists and read-only fields ignored."""
    skip = {"provisioningState", "etag", "id", "type"}
    return {k: v for k, v in props.items() if k not in skip and v not in (None, "", [], ())}


def _arm_props(rule: SecurityRule) -> dict[str, Any]:
    return _comparable(rule.to_arm()["properties"])


# Azure's singular/plural field pairs hold one list between them (one entry in the singular, several in the plural).
_PAIRED = {
    "sourceAddressPrefix": "sourceAddressPrefixes",
    "destinationAddressPrefix": "destinationAddressPrefixes",
    "sourcePortRange": "sourcePortRanges",
    "destinationPortRange": "destinationPortRanges",
}


def _as_lists(props: Mapping[str, Any]) -> dict[str, Any]:
    """A rule's properties with each singular/plural pair as one plural list, so a rule that goes from one
    prefix to two shows one change (+ the new prefix), not `prefix -> None` plus a list that repeats it."""
    out = dict(props)
    for singular, plural in _PAIRED.items():
        if singular in out:
            out[plural] = [*out.get(plural, ()), out.pop(singular)]
    return out


def _field_diff(before: Mapping[str, Any], after: Mapping[str, Any]) -> tuple[tuple[str, Any, Any], ...]:
    before, after = _as_lists(before), _as_lists(after)
    keys = sorted(set(before) | set(after))
    return tuple((k, before.get(k), after.get(k)) for k in keys if before.get(k) != after.get(k))


def _carry_description(planned: PlannedRule, existing: SecurityRule | None) -> PlannedRule:
    """Keep an existing rule's description when nothing else changed, so unchanged rules stay byte-identical."""
    if existing is None or not existing.description:
        return planned
    want = _comparable(planned.to_arm()["properties"])
    have = _arm_props(existing)
    want.pop("description", None)
    have.pop("description", None)
    if want == have:
        return replace(planned, description=existing.description)
    return planned


def _destination_entries(rule: SecurityRule) -> int:
    return len(rule.destinations)


def plan_apply(
    nsg: Nsg,
    spec: EgressSpec,
    dataset: Dataset,
    *,
    raw_rules: Sequence[Mapping[str, Any]] | None = None,
    repair: str | None = None,
) -> ApplyPlan:
    """The changes that bring `nsg` to `spec`. `raw_rules` are the NSG's rule objects as read (kept verbatim);
    `repair` says why the NSG needs writing even without rule changes (see `failed_state`)."""
    prefix = spec.rule_prefix
    raw_by_name = {str(r.get("name")): dict(r) for r in (raw_rules or [])}
    kinds = {r.name: ownership(r, prefix) for r in nsg.rules}
    foreign = [r for r in nsg.rules if kinds[r.name] == FOREIGN]
    managed = {r.name: r for r in nsg.rules if kinds[r.name] == OWNED}
    legacy = {r.name: r for r in nsg.rules if kinds[r.name] == LEGACY}
    ruleset = _plan_rules(spec, dataset, foreign, {**managed, **legacy})
    unplanned = sorted(set(legacy) - {r.name for r in ruleset.rules})
    if unplanned:
        # Not this plan's names: maybe another prefix's rules from before owners were recorded. Never deleted.
        foreign += [legacy.pop(name) for name in unplanned]
        ruleset = _plan_rules(spec, dataset, foreign, {**managed, **legacy})
        shown = ", ".join(unplanned[:5]) + (f" and {len(unplanned) - 5} more" if len(unplanned) > 5 else "")
        note = (
            f"left as they are: {shown} (named {prefix}..., marked {MARKER} without an owner, so possibly "
            f"another --rule-prefix's); delete them by hand if they are {owner_marker(prefix)}'s"
        )
        ruleset = replace(ruleset, notes=(*ruleset.notes, note))
    managed.update(legacy)  # adopted: rewritten below with their owner recorded
    foreign_names = {r.name.lower(): r.name for r in foreign}
    clashes = sorted(foreign_names[r.name.lower()] for r in ruleset.rules if r.name.lower() in foreign_names)
    if clashes:
        raise ConflictError(
            f"rule(s) {', '.join(clashes)} already exist in {nsg.name or 'the NSG'} but are not egress's "
            f"(no {owner_marker(prefix)} description); rename them or choose another --rule-prefix."
        )
    planned = [r if r.name in legacy else _carry_description(r, managed.get(r.name)) for r in ruleset.rules]
    ruleset = replace(ruleset, rules=tuple(planned))
    changes: list[RuleChange] = []
    unchanged: set[str] = set()
    for rule in planned:
        after = _comparable(rule.to_arm()["properties"])
        existing = managed.get(rule.name)
        if existing is None:
            changes.append(RuleChange("create", rule.name, rule.direction, rule.priority))
            continue
        diff = _field_diff(_arm_props(existing), after)
        if diff:
            changes.append(RuleChange("update", rule.name, rule.direction, rule.priority, diff))
        else:
            unchanged.add(rule.name)
    wanted = {r.name for r in planned}
    for name, existing in sorted(managed.items()):
        if name not in wanted:
            changes.append(RuleChange("delete", name, existing.direction, existing.priority))
    changes.sort(
        key=lambda c: ({"delete": 0, "update": 1, "create": 2}[c.action], c.direction, c.priority, c.name)
    )

    # Foreign and unchanged rules go back exactly as read (their ids, etags, shape), changed ones as planned.
    rules_after = [raw_by_name.get(r.name) or r.to_arm() for r in foreign] + [
        (raw_by_name.get(r.name) if r.name in unchanged else None) or r.to_arm() for r in planned
    ]
    problems = rule_violations(_shape_for_check(rules_after))
    if problems:
        raise ConflictError(
            f"{nsg.name or 'the NSG'} would break {len(problems)} Azure rule(s) with egress's rules merged in: "
            + "; ".join(problems[:8])
            + "."
        )
    return ApplyPlan(
        nsg_name=nsg.name,
        changes=tuple(changes),
        ruleset=ruleset,
        foreign=tuple(sorted(r.name for r in foreign)),
        rules_after=tuple(rules_after),
        repair=repair,
    )


def _plan_rules(
    spec: EgressSpec, dataset: Dataset, foreign: Sequence[SecurityRule], mine: Mapping[str, SecurityRule]
) -> RuleSet:
    used: dict[str, list[int]] = {}
    for rule in foreign:
        used.setdefault(rule.direction, []).append(rule.priority)
    return build_rules(
        spec,
        dataset,
        used_priorities=used,
        current={name: r.priority for name, r in mine.items()},
        reserved_destination_prefixes=sum(_destination_entries(r) for r in foreign),
        reserved_rules=len(foreign),
    )


def _shape_for_check(rules: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Azure's empty lists in read rules would look like 'both singular and plural' to the validator."""
    out = []
    for rule in rules:
        props = rule.get("properties")
        if not isinstance(props, Mapping):  # flattened (az) shape
            props = {
                k: v for k, v in rule.items() if k not in ("name", "id", "etag", "type", "resourceGroup")
            }
        out.append({"name": rule.get("name"), "properties": _comparable(props)})
    return out
