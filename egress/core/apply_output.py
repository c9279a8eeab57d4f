"""Text rendering of an apply plan: one line per change, property-level detail for updates."""

from __future__ import annotations

from typing import Any

from egress.core.output import table
from egress.core.reconcile import ApplyPlan, RuleChange


def _as_list(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, list | tuple):
        return [str(v) for v in value]
    return [str(value)]


def describe_field(name: str, before: Any, after: Any) -> str:
    if isinstance(before, list) or isinstance(after, list):
        old, new = set(_as_list(before)), set(_as_list(after))
        added, removed = sorted(new - old), sorted(old - new)
        parts = []
        if added:
            parts.append("+" + ",".join(added[:3]) + (f" (+{len(added) - 3} more)" if len(added) > 3 else ""))
        if removed:
            parts.append(
                "-" + ",".join(removed[:3]) + (f" (-{len(removed) - 3} more)" if len(removed) > 3 else "")
            )
        return f"{name}: {' '.join(parts) or 'reordered'}"
    if before is None:
        return f"{name}: set to {after!r}"
    if after is None:
        return f"{name}: removed (was {before!r})"
    return f"{name}: {before!r} -> {after!r}"


def _details(change: RuleChange) -> str:
    if change.action != "update":
        return ""
    return "; ".join(describe_field(*f) for f in change.fields)


def plan_text(plan: ApplyPlan, label: str) -> str:
    counts = plan.counts()
    lines = []
    if plan.changes:
        rows = [
            (c.action, "out" if c.direction == "Outbound" else "in", c.priority, c.name, _details(c))
            for c in plan.changes
        ]
        lines.append(table(("ACTION", "DIR", "PRIORITY", "NAME", "DETAILS"), rows))
    if plan.repair:
        lines.append(f"repair: {plan.repair}; egress writes the NSG again (re-PUT) to repair it.\n")
    lines.append(
        f"{label}: {counts['create']} to create, {counts['update']} to update, {counts['delete']} to delete, "
        f"{counts['unchanged']} unchanged; {counts['foreign']} rules not egress's left as they are.\n"
    )
    return "".join(lines)
