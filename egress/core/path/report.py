"""The path report as JSON (a serializer), a plain table or Markdown; deterministic, sorted as the input lists VMs."""

from __future__ import annotations

from typing import Any

from egress.core.model import Provenance
from egress.core.path.steps import Step
from egress.core.path.verdict import Check, PathReport

SHOWN_PREFIXES = 8  # per step in the text formats; JSON lists all


def _step_dict(step: Step) -> dict[str, Any]:
    return {
        "outcome": step.outcome,
        "layer": step.layer,
        "rule": step.rule,
        "resourceId": step.resource_id,
        "detail": step.detail,
        "via": step.via,
        "fix": step.fix,
        "addresses": step.count,
        "prefixes": step.prefixes,
    }


def check_dict(check: Check) -> dict[str, Any]:
    deciding = check.deciding()
    return {
        "vm": check.vm,
        "vmId": check.vm_id,
        "region": check.region,
        "ip": check.ip,
        "destination": check.destination,
        "protocol": check.protocol,
        "port": check.port,
        "verdict": check.verdict,
        "layer": deciding.layer if deciding is not None and check.verdict != "reachable" else None,
        "rule": deciding.rule if deciding is not None and check.verdict != "reachable" else None,
        "resourceId": deciding.resource_id if deciding is not None and check.verdict != "reachable" else None,
        "fix": deciding.fix if deciding is not None and check.verdict != "reachable" else None,
        "addresses": check.total,
        "blockedAddresses": check.blocked_addresses,
        "excludedAddresses": check.excluded,
        "excludedPrefixes": check.excluded_prefixes,
        "missing": list(check.missing),
        "steps": [_step_dict(s) for s in check.steps],
    }


def to_json(report: PathReport, provenance: Provenance, source: str) -> dict[str, Any]:
    return {
        "resources": source,
        "ok": report.ok,
        "checks": [check_dict(c) for c in report.checks],
        "findings": list(report.findings),
        "notes": list(report.notes),
        "data": provenance.to_dict(),
    }


def _decided_by(check: Check) -> tuple[str, str]:
    if check.missing:
        return "input", "missing: " + "; ".join(check.missing)
    step = check.deciding()
    if step is None:
        return "", ""
    if check.verdict == "reachable":
        return step.layer, f"via {step.via}" if step.via else step.rule
    return step.layer, step.rule


def _count(check: Check) -> str:
    if check.verdict in ("reachable", "unknown") and not check.blocked_addresses:
        return f"{check.total}"
    return f"{check.blocked_addresses} of {check.total} blocked"


def rows(report: PathReport) -> list[list[str]]:
    out = []
    for check in report.checks:
        layer, rule = _decided_by(check)
        port = f"{check.protocol.lower()}/{check.port}" if check.port is not None else check.protocol.lower()
        out.append([check.vm, check.destination, port, check.verdict, layer, rule, _count(check)])
    return out


HEADERS = ("VM", "destination", "flow", "verdict", "layer", "deciding rule / route / method", "addresses")


def _prefix_text(step: Step) -> str:
    prefixes = step.prefixes
    shown = ", ".join(prefixes[:SHOWN_PREFIXES])
    more = f", ... ({len(prefixes) - SHOWN_PREFIXES} more)" if len(prefixes) > SHOWN_PREFIXES else ""
    return shown + more


def detail_lines(report: PathReport) -> list[str]:
    """One block per check that is not plainly reachable: each blocking or unknown part, where and how to fix."""
    lines: list[str] = []
    for check in report.checks:
        if check.verdict == "reachable":
            continue
        lines.append(f"{check.vm} -> {check.destination}: {check.verdict}")
        if check.excluded:
            family = "IPv4" if ":" in check.ip else "IPv6"
            lines.append(
                f"  not checked: the tag's {check.excluded_prefixes} {family} prefixes (the VM has no {family} address)"
            )
        for missing in check.missing:
            lines.append(f"  missing from the input: {missing}")
        for step in check.steps:
            if step.outcome == "reachable":
                continue
            lines.append(
                f"  {step.outcome} at {step.layer}: {step.rule} ({step.count} addresses: {_prefix_text(step)})"
            )
            if step.detail:
                lines.append(f"    why: {step.detail}")
            if step.resource_id:
                lines.append(f"    resource: {step.resource_id}")
            if step.fix:
                lines.append(f"    fix: {step.fix}")
    return lines


def data_line(provenance: Provenance) -> str:
    date = provenance.file_date or "unknown date"
    change = f", change {provenance.change_number}" if provenance.change_number is not None else ""
    return f"{provenance.cloud} service tags of {date}{change} ({provenance.source})"


def text(report: PathReport, provenance: Provenance, table: str) -> str:
    parts = [table]
    details = detail_lines(report)
    if details:
        parts += ["", *details]
    if report.findings:
        parts += ["", *(f"error: {f}" for f in report.findings)]
    if report.notes:
        parts += ["", *(f"note: {n}" for n in report.notes)]
    parts += ["", f"Data: {data_line(provenance)}"]
    return "\n".join(parts)


def _md(cell: str) -> str:
    return cell.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def markdown(report: PathReport, provenance: Provenance, source: str) -> str:
    lines = [f"### Will Backup work? `{_md(source)}`", ""]
    lines.append("| " + " | ".join(HEADERS) + " |")
    lines.append("|" + "---|" * len(HEADERS))
    for row in rows(report):
        lines.append("| " + " | ".join(_md(c) for c in row) + " |")
    details = detail_lines(report)
    if details:
        lines += ["", "```", *details, "```"]
    for finding in report.findings:
        lines.append(f"- **error:** {_md(finding)}")
    for note in report.notes:
        lines.append(f"- note: {_md(note)}")
    lines += ["", f"Data: {_md(data_line(provenance))}"]
    return "\n".join(lines)
