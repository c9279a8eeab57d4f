"""What refresh did to each export: the model and its lines in refresh's text, JSON and Markdown reports. Pure."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from egress.core.shrink import ShrinkFinding


@dataclass(frozen=True, slots=True)
class ExportReport:
    name: str
    format: str
    paths: tuple[str, ...]
    result: str  # a refresh result: unchanged | applied | pending | refused | error
    message: str = ""
    count: int | None = None  # prefixes in the list now
    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    compared: bool = True  # False: nothing recorded before (first run or other settings)
    written: tuple[str, ...] = ()  # files written this run
    hook: str | None = None  # what the `after` hook did, when it ran
    shrink: tuple[ShrinkFinding, ...] = ()
    notes: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "format": self.format,
            "paths": list(self.paths),
            "result": self.result,
            "message": self.message,
            "count": self.count,
            "compared": self.compared,
            "added": list(self.added),
            "removed": list(self.removed),
            "written": list(self.written),
            "hook": self.hook,
            "shrink": [f.to_json() for f in self.shrink],
            "notes": list(self.notes),
        }

    def change_text(self) -> str:
        if self.count is None:
            return "-"
        if not self.compared:
            return "new" if self.count is None else f"new ({self.count})"
        return f"+{len(self.added)}/-{len(self.removed)}"


def _one_line(text: str) -> str:
    return " ".join(text.split())


def text_rows(exports: tuple[ExportReport, ...]) -> list[tuple[object, ...]]:
    return [
        (
            e.name,
            e.result,
            e.format,
            "-" if e.count is None else e.count,
            e.change_text(),
            _one_line(e.message) or "-",
        )
        for e in exports
    ]


TEXT_HEADERS = ("EXPORT", "RESULT", "FORMAT", "PREFIXES", "CHANGE", "DETAIL")
