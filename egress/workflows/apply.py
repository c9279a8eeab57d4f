"""Read an NSG, plan egress's rules into it, and write it once — re-planning if someone else wrote first."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from egress.adapters.documents import StaleTargetError
from egress.core.growth import (
    GrowthLimits,
    allowed_size,
    check_rule_growth,
    refusal_message,
    wide_prefixes,
)
from egress.core.model import Dataset
from egress.core.selection import used_tags
from egress.core.shrink import TagSize
from egress.core.spec import EgressSpec
from egress.errors import ConflictError, SafetyError
from egress.places.nsg.reconcile import ApplyPlan, is_managed, plan_apply
from egress.places.nsg.target import NsgTarget, Snapshot

MAX_REPLANS = 3


@dataclass(frozen=True, slots=True)
class ApplyOutcome:
    plan: ApplyPlan
    applied: bool
    attempts: int  # writes tried (a stale write counts)
    requests: dict[str, int]


def run_apply(
    target: NsgTarget,
    spec: EgressSpec,
    dataset: Dataset,
    *,
    dry_run: bool = True,
    max_deletes: int = 10,
    force: bool = False,
    confirm: Callable[[ApplyPlan], bool] | None = None,
    show: Callable[[ApplyPlan], None] | None = None,
    max_replans: int = MAX_REPLANS,
    growth: GrowthLimits | None = None,
    planner: Callable[[Any, EgressSpec, Dataset], Any] | None = None,
) -> ApplyOutcome:
    """Plan and (unless `dry_run`) apply. `confirm` is asked once, before the first write; None means yes.

    `planner(snapshot, spec, dataset)` plans against what the target read: a place's `plan_apply` (default the
    NSG's); its plan has `changes`, `has_changes`, `check_safety()` and `rules_after` (what `write` takes).
    The growth guard (default limits unless `growth` says otherwise) refuses data whose tags hold a default route
    or a too-wide prefix, and NSG plans that widen what egress's rules allow beyond `--max-growth`.
    """
    plan_for = planner or _plan_nsg
    growth = (growth or GrowthLimits()).validated()
    outcome = "so it would be refused" if dry_run else "nothing was written"
    wide = wide_prefixes(used_tags(spec, dataset), growth)
    if wide:
        raise SafetyError(refusal_message(wide, growth, outcome=outcome))
    shown: ApplyPlan | None = None
    confirmed: tuple[object, ...] | None = None
    attempts = 0
    while True:
        snapshot = target.read()
        plan = plan_for(snapshot, spec, dataset)
        repair = getattr(plan, "repair", None)
        if show is not None and (
            shown is None or (plan.changes, repair) != (shown.changes, getattr(shown, "repair", None))
        ):
            show(plan)
        shown = plan
        plan.check_safety(max_deletes=max_deletes, force=force, dry_run=dry_run)
        if isinstance(plan, ApplyPlan) and isinstance(snapshot, Snapshot):  # an NSG: egress's rules' growth
            grown = check_rule_growth(_allowed_now(snapshot, spec), _allowed_after(plan), growth)
            if grown:
                raise SafetyError(refusal_message(grown, growth, outcome=outcome))
        if dry_run or not plan.has_changes:
            return ApplyOutcome(plan, False, attempts, target.request_counts())
        if confirm is not None and plan.changes != confirmed:
            if not confirm(plan):
                raise SafetyError("not applied: the plan was not confirmed.")
            confirmed = plan.changes
        attempts += 1
        try:
            target.write(snapshot, plan.rules_after)
        except StaleTargetError:
            if attempts > max_replans:
                raise ConflictError(
                    f"{target.label} kept changing while egress wrote it ({attempts} attempts); "
                    "nothing was written — run apply again when the other writer is done."
                ) from None
            continue
        return ApplyOutcome(plan, True, attempts, target.request_counts())


def _plan_nsg(snapshot: Any, spec: EgressSpec, dataset: Dataset) -> ApplyPlan:
    return plan_apply(
        snapshot.nsg, spec, dataset, raw_rules=snapshot.raw_rules, repair=getattr(snapshot, "repair", None)
    )


def _allowed_now(snapshot: Snapshot, spec: EgressSpec) -> TagSize:
    """Addresses egress's own allow rules in the NSG admit today."""
    return allowed_size(
        d
        for r in snapshot.nsg.rules
        if r.access == "Allow" and r.direction == "Outbound" and is_managed(r, spec.rule_prefix)
        for d in r.destinations
    )


def _allowed_after(plan: ApplyPlan) -> TagSize:
    return allowed_size(
        d
        for r in plan.ruleset.rules
        if r.access == "Allow" and r.direction == "Outbound"
        for d in r.destination
    )
