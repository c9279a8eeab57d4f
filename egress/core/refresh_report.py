"""What one `egress refresh` run did, as a model rendered to JSON (alerting), Markdown (a PR comment or change
ticket) and a short text table. Pure: the workflow fills it in, nothing here reads files or clocks.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from egress.core.change_text import describe_field
from egress.core.growth import GrowthFinding
from egress.core.model import change_number_text
from egress.core.shrink import ShrinkFinding, TagSize, format_count
from egress.core.text_table import table
from egress.errors import ExitCode

UNCHANGED = "unchanged"
APPLIED = "applied"  # something changed and was written
PENDING = "pending"  # something would change (dry run)
REFUSED = "refused"  # a safety check stopped it; the target was not written
ERROR = "error"
RESULTS = (UNCHANGED, APPLIED, PENDING, REFUSED, ERROR)
# Microsoft: new ranges in the weekly file are not used in Azure for at least a week after publication.
ADOPTION_DAYS = 7
SCHEMA_VERSION = 1


def age_in_days(file_date: str | None, today: date) -> int | None:
    if not file_date:
        return None
    try:
        return (today - date.fromisoformat(file_date)).days
    except ValueError:
        return None


@dataclass(frozen=True, slots=True)
class DataInfo:
    """One dataset the run used: where it came from and how old it is."""

    cloud: str
    source: str
    kind: str
    sha256: str
    change_number: int | None
    file_date: str | None
    age_days: int | None
    origin: str  # fetched | cache-fallback | file (--data) | config (a target's `data`)
    path: str | None = None
    notes: tuple[str, ...] = ()

    @property
    def under_a_week_old(self) -> bool | None:
        return None if self.age_days is None else self.age_days < ADOPTION_DAYS

    def age_text(self) -> str:
        if self.age_days is None:
            return "age unknown (no date in the file name)"
        if self.under_a_week_old:
            return (
                f"{self.age_days} days old: under a week, so Azure may not use its new ranges yet "
                "(allowing them early is harmless)"
            )
        return f"{self.age_days} days old"

    def to_json(self) -> dict[str, Any]:
        return {
            "cloud": self.cloud,
            "origin": self.origin,
            "source": self.source,
            "kind": self.kind,
            "path": self.path,
            "sha256": self.sha256,
            "changeNumber": self.change_number,
            "fileDate": self.file_date,
            "ageDays": self.age_days,
            "underAWeekOld": self.under_a_week_old,
            "notes": list(self.notes),
        }


@dataclass(frozen=True, slots=True)
class TagReport:
    """How one tag a target uses differs between the previous good data and this run's."""

    name: str
    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    before: TagSize | None = None  # None: no previous data for this tag
    after: TagSize | None = None  # None: gone from the new data
    compared: bool = True  # False: the previous file is gone, only sizes are known

    @property
    def changed(self) -> bool:
        if self.added or self.removed:
            return True
        return self.before is not None and self.after is not None and self.before != self.after

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "changed": self.changed,
            "compared": self.compared,
            "added": list(self.added),
            "removed": list(self.removed),
            "before": self.before.to_json() if self.before else None,
            "after": self.after.to_json() if self.after else None,
        }


@dataclass(frozen=True, slots=True)
class TargetReport:
    name: str
    target: str
    result: str
    message: str = ""
    option: str = ""
    data_sha256: str | None = None
    change_number: int | None = None
    previous_sha256: str | None = None
    previous_change_number: int | None = None
    tags: tuple[TagReport, ...] = ()
    changes: tuple[Mapping[str, Any], ...] = ()  # RuleChange.to_json() of the plan
    counts: Mapping[str, int] = field(default_factory=dict)
    requests: Mapping[str, int] = field(default_factory=dict)
    duration: float = 0.0
    shrink: tuple[ShrinkFinding, ...] = ()
    notes: tuple[str, ...] = ()
    growth: tuple[GrowthFinding, ...] = ()

    def __post_init__(self) -> None:
        if self.result not in RESULTS:
            raise ValueError(f"unknown result {self.result!r}")

    @property
    def tags_changed(self) -> tuple[TagReport, ...]:
        return tuple(t for t in self.tags if t.changed)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "target": self.target,
            "result": self.result,
            "message": self.message,
            "option": self.option,
            "data": {"sha256": self.data_sha256, "changeNumber": self.change_number},
            "previousData": {"sha256": self.previous_sha256, "changeNumber": self.previous_change_number},
            "tags": [t.to_json() for t in self.tags],
            "changes": [dict(c) for c in self.changes],
            "counts": dict(self.counts),
            "requests": dict(sorted(self.requests.items())),
            "durationSeconds": round(self.duration, 3),
            "shrink": [f.to_json() for f in self.shrink],
            "growth": [f.to_json() for f in self.growth],
            "notes": list(self.notes),
        }


@dataclass(frozen=True, slots=True)
class RefreshReport:
    config: str
    apply: bool
    started_at: str
    duration: float
    data: tuple[DataInfo, ...]
    targets: tuple[TargetReport, ...]
    notes: tuple[str, ...] = ()
    exports: tuple[Any, ...] = ()  # egress.places.allowlist.report.ExportReport, one per [[exports]] entry

    def results(self) -> dict[str, int]:
        out = dict.fromkeys(RESULTS, 0)
        for t in (*self.targets, *self.exports):
            out[t.result] += 1
        return out

    @property
    def exit_code(self) -> ExitCode:
        """1 any error, else 4 any refusal, else 3 anything changed (applied or pending), else 0."""
        results = self.results()
        if results[ERROR]:
            return ExitCode.ERROR
        if results[REFUSED]:
            return ExitCode.REFUSED
        if results[APPLIED] or results[PENDING]:
            return ExitCode.CHANGES
        return ExitCode.OK

    def summary(self) -> str:
        counts = self.results()
        parts = [f"{n} {r}" for r, n in counts.items() if n]
        return ", ".join(parts) or "no targets"

    def to_json(self) -> dict[str, Any]:
        return {
            "schemaVersion": SCHEMA_VERSION,
            "config": self.config,
            "mode": "apply" if self.apply else "dry-run",
            "startedAt": self.started_at,
            "durationSeconds": round(self.duration, 3),
            "exitCode": int(self.exit_code),
            "results": self.results(),
            "data": [d.to_json() for d in self.data],
            "targets": [t.to_json() for t in self.targets],
            "exports": [e.to_json() for e in self.exports],
            "notes": list(self.notes),
        }

    def to_json_text(self) -> str:
        return json.dumps(self.to_json(), indent=2, ensure_ascii=False) + "\n"

    def to_text(self) -> str:
        return render_text(self)

    def to_markdown(self) -> str:
        return render_markdown(self)


# --- text ---------------------------------------------------------------------------------------------------------


def _num(value: int | None) -> str:
    return "-" if value is None else str(value)


def _data_line(d: DataInfo) -> str:
    return (
        f"data: {d.cloud} {change_number_text(d.change_number)}, file date {d.file_date or 'unknown'} "
        f"({d.age_text()}); {d.origin}: {d.source}"
    )


def _tag_summary(t: TargetReport, limit: int = 3) -> str:
    changed = t.tags_changed
    if not changed:
        return "-"
    shown = [f"{g.name} +{len(g.added)}/-{len(g.removed)}" for g in changed[:limit]]
    if len(changed) > limit:
        shown.append(f"+{len(changed) - limit} more")
    return ", ".join(shown)


def render_text(report: RefreshReport) -> str:
    mode = "apply" if report.apply else "dry run"
    lines = [f"egress refresh ({mode}) of {report.config}"]
    lines += [_data_line(d) for d in report.data]
    lines += [f"note: {n}" for d in report.data for n in d.notes]
    lines += [f"note: {n}" for n in report.notes]
    rows = []
    for t in report.targets:
        c = t.counts
        rows.append(
            (
                t.name,
                t.result,
                c.get("create", "-"),
                c.get("update", "-"),
                c.get("delete", "-"),
                _tag_summary(t),
                _one_line(t.message) or "-",
            )
        )
    if report.targets or not report.exports:
        lines.append("")
        lines.append(
            table(("TARGET", "RESULT", "CREATE", "UPDATE", "DELETE", "TAGS CHANGED", "DETAIL"), rows).rstrip(
                "\n"
            )
        )
    lines += _grouped_notes(report.targets)
    if report.exports:
        from egress.places.allowlist.report import TEXT_HEADERS, text_rows

        lines.append("")
        lines.append(table(TEXT_HEADERS, text_rows(report.exports)).rstrip("\n"))
        lines += [f"note: {e.name}: {n}" for e in report.exports for n in e.notes]
    lines.append("")
    lines.append(f"{report.summary()} (exit {int(report.exit_code)})")
    return "\n".join(lines) + "\n"


NAMED_NOTE_TARGETS = 3  # a note shared by more targets names this many of them and counts the rest


def _grouped_notes(targets: Sequence[TargetReport]) -> list[str]:
    """One line per distinct note, naming the targets it is about: a fleet of a thousand NSGs would otherwise
    repeat "up to date in Resource Graph's copy" a thousand times (JSON keeps every target's own notes)."""
    by_note: dict[str, list[str]] = {}
    for t in targets:
        for n in dict.fromkeys(t.notes):
            by_note.setdefault(n, []).append(t.name)
    lines = []
    for note, names in by_note.items():
        if len(names) <= NAMED_NOTE_TARGETS:
            who = ", ".join(names)
        elif len(names) == len(targets):
            who = f"all {len(names)} targets"
        else:
            shown = ", ".join(names[:NAMED_NOTE_TARGETS])
            who = f"{len(names)} targets ({shown} and {len(names) - NAMED_NOTE_TARGETS} more)"
        lines.append(f"note: {who}: {note}")
    return lines


def _one_line(text: str) -> str:
    return " ".join(text.split())


# --- Markdown -----------------------------------------------------------------------------------------------------

_RESULT_MARK = {UNCHANGED: "✅", APPLIED: "🔄", PENDING: "📝", REFUSED: "⛔", ERROR: "❌"}


def _cell(value: object) -> str:
    """Text safe inside a Markdown table cell (no pipes, no line breaks, no raw HTML)."""
    text = _one_line(str(value))
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;")


def _code(value: object) -> str:
    text = _one_line(str(value)).replace("|", "\\|")
    fence = "``" if "`" in text else "`"
    return f"{fence}{text}{fence}" if fence == "`" else f"{fence} {text} {fence}"


def _md_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    out = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    out += ["| " + " | ".join(row) + " |" for row in rows]
    return out


def _size_text(size: TagSize | None, family: int) -> str:
    if size is None:
        return "-"
    return format_count(size.of(family), family)


def _target_section(t: TargetReport) -> list[str]:
    out = [f"### {_RESULT_MARK[t.result]} {_cell(t.name)}: {t.result}", "", f"Target: {_code(t.target)}"]
    if t.message:
        out += ["", f"> {_cell(t.message)}"]
    out += [f"- {_cell(n)}" for n in t.notes]
    changed = t.tags_changed
    if changed:
        out += ["", "**Service-tag changes**", ""]
        rows = [
            [
                _code(g.name),
                f"+{len(g.added)}",
                f"-{len(g.removed)}",
                f"{_size_text(g.before, 4)} → {_size_text(g.after, 4)}",
                f"{_size_text(g.before, 6)} → {_size_text(g.after, 6)}",
            ]
            for g in changed
        ]
        out += _md_table(("tag", "added", "removed", "IPv4 addresses", "IPv6 addresses"), rows)
        listed = [g for g in changed if g.added or g.removed]
        if listed:
            out += ["", "<details><summary>Prefixes added and removed</summary>", "", "```diff"]
            for g in listed:
                out += [f"+ {g.name} {p}" for p in g.added]
                out += [f"- {g.name} {p}" for p in g.removed]
            out += ["```", "", "</details>"]
    elif t.tags:
        out += ["", "No change in the service tags this target uses."]
    if t.changes:
        out += ["", "**Rule changes**", ""]
        rows = []
        for c in t.changes:
            details = "; ".join(
                describe_field(f["property"], f["before"], f["after"]) for f in c.get("changes", [])
            ) or str(c.get("what", ""))  # routes and rule collections (egress.places) have no direction
            rows.append(
                [
                    str(c["action"]),
                    _code(c["name"]),
                    str(c.get("direction", "-")),
                    str(c.get("priority", "-")),
                    _cell(details),
                ]
            )
        out += _md_table(("action", "rule", "direction", "priority", "details"), rows)
    return out


# Past this many targets, the Markdown report (a PR comment, a CI job summary: GitHub caps those at 64 KB and
# 1 MB) folds the unchanged targets into one list of names; the JSON report keeps every target.
MARKDOWN_FULL_TARGETS = 50
MARKDOWN_NAMED_UNCHANGED = 500  # names listed of the folded ones (~30 KB): the report's size stays bounded


def _markdown_targets(
    targets: Sequence[TargetReport],
) -> tuple[tuple[TargetReport, ...], tuple[TargetReport, ...]]:
    """(targets shown in full, unchanged targets only named)."""
    if len(targets) <= MARKDOWN_FULL_TARGETS:
        return tuple(targets), ()
    folded = [t.result == UNCHANGED and not t.tags_changed for t in targets]
    return (
        tuple(t for t, fold in zip(targets, folded, strict=True) if not fold),
        tuple(t for t, fold in zip(targets, folded, strict=True) if fold),
    )


def render_markdown(report: RefreshReport) -> str:
    mode = "apply" if report.apply else "dry run"
    lines = [
        f"## egress refresh: {report.summary()}",
        "",
        f"Mode: **{mode}** · config {_code(report.config)} · exit code **{int(report.exit_code)}** · "
        f"started {report.started_at} · {report.duration:.1f}s",
        "",
        "### Data",
        "",
    ]
    rows = [
        [
            _cell(d.cloud),
            _cell(_num(d.change_number)),
            _cell(d.file_date or "unknown"),
            _cell(d.age_text()),
            _cell(d.origin),
            _code(d.source),
        ]
        for d in report.data
    ]
    lines += _md_table(("cloud", "changeNumber", "file date", "age", "origin", "source"), rows)
    notes = [*[n for d in report.data for n in d.notes], *report.notes]
    if notes:
        lines.append("")
        lines += [f"> {_cell(n)}" for n in notes]
    lines += ["", "### Targets", ""]
    shown, quiet = _markdown_targets(report.targets)
    rows = []
    for t in shown:
        c = t.counts
        rows.append(
            [
                _cell(t.name),
                f"{_RESULT_MARK[t.result]} {t.result}",
                str(c.get("create", "-")),
                str(c.get("update", "-")),
                str(c.get("delete", "-")),
                _cell(_tag_summary(t)),
                _cell(", ".join(f"{k} {v}" for k, v in sorted(t.requests.items())) or "-"),
                f"{t.duration:.1f}s",
            ]
        )
    lines += _md_table(
        ("target", "result", "create", "update", "delete", "tags changed", "requests", "duration"), rows
    )
    if quiet:
        lines += [
            "",
            f"{_RESULT_MARK[UNCHANGED]} {len(quiet)} more targets unchanged, without tag changes:",
            "",
        ]
        names = ", ".join(_cell(t.name) for t in quiet[:MARKDOWN_NAMED_UNCHANGED])
        if len(quiet) > MARKDOWN_NAMED_UNCHANGED:
            names += f" and {len(quiet) - MARKDOWN_NAMED_UNCHANGED} more (all in `-o json`)"
        lines += ["<details><summary>their names</summary>", "", names, "", "</details>"]
    for t in shown:
        lines.append("")
        lines += _target_section(t)
    if report.exports:
        lines += ["", "### Exports", ""]
        lines += _md_table(
            ("export", "result", "format", "prefixes", "added", "removed", "file"),
            [
                [
                    _cell(e.name),
                    f"{_RESULT_MARK[e.result]} {e.result}",
                    _cell(e.format),
                    "-" if e.count is None else str(e.count),
                    f"+{len(e.added)}" if e.compared else "new",
                    f"-{len(e.removed)}" if e.compared else "-",
                    _cell(", ".join(e.paths)),
                ]
                for e in report.exports
            ],
        )
        for e in report.exports:
            lines += ["", f"#### {_RESULT_MARK[e.result]} {_cell(e.name)}: {e.result}"]
            if e.message:
                lines += ["", f"> {_cell(e.message)}"]
            lines += [f"- {_cell(n)}" for n in e.notes]
            if e.added or e.removed:
                lines += ["", "<details><summary>Prefixes added and removed</summary>", "", "```diff"]
                lines += [f"+ {p}" for p in e.added] + [f"- {p}" for p in e.removed]
                lines += ["```", "", "</details>"]
    return "\n".join(lines) + "\n"
