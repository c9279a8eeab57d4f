"""Text rendering of an apply plan: one line per change, property-level detail for updates."""

from __future__ import annotations

from egress.core.change_text import describe_field
from egress.core.text_table import table
from egress.places.nsg.reconcile import ApplyPlan, RuleChange


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
