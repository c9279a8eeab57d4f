"""The exports' part of `egress refresh`: after the data is fetched, bring every `[[exports]]` file to it.

Each export on its own: the shrink guard per tag and family against the data the file last reflected (a
shrinking week leaves the last good file in place: refused, exit 4), never back to older data, the file written
atomically and only when its content changed (with --apply), then its `after` hook. A failure stays with its
export; the others and the NSG targets go on.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, Protocol

from egress import __version__
from egress.adapters.cache import utc_now
from egress.adapters.refresh_state import DataRef
from egress.core.growth import GrowthLimits, check_growth
from egress.core.growth import refusal_message as growth_refusal
from egress.core.model import Dataset, ServiceTag, cloud_name
from egress.core.refresh_report import APPLIED, ERROR, PENDING, REFUSED, UNCHANGED
from egress.core.selection import used_tags
from egress.core.shrink import TagSize, check_shrink
from egress.errors import DataError, EgressError, SafetyError
from egress.places.allowlist import formats
from egress.places.allowlist.config import BrokenExport, ExportConfig
from egress.places.allowlist.export import build, files_for
from egress.places.allowlist.model import tag_sizes
from egress.places.allowlist.report import ExportReport
from egress.places.allowlist.state import (
    ExportState,
    exports_state_path,
    load_export_states,
    save_export_states,
)
from egress.places.allowlist.target import run_hook, write_files
from egress.render.header import Header

Say = Callable[[str], None]


class Data(Protocol):  # what refresh's data sources hand out (egress.workflows.refresh._Data)
    dataset: Dataset
    path: str | None
    automatic: bool
    fetch_previous: Path | None


class Sources(Protocol):
    def for_spec(self, spec: Any) -> Any: ...

    def baseline_file(self, path: Path) -> Dataset | None: ...


def settings_digest(export: ExportConfig) -> str:
    r = export.request
    fields = [r.format.name, list(r.tags), r.name, r.family, r.merge, r.max_prefixes, r.per_family,
              r.options.nft_table, export.spec.region, export.spec.cloud]  # fmt: skip
    return hashlib.sha256(json.dumps(fields).encode()).hexdigest()[:16]


def _tags(export: ExportConfig, dataset: Dataset) -> tuple[ServiceTag, ...]:
    spec = replace(export.spec, option="ip-ranges", tags=export.request.tags)
    return used_tags(spec, dataset)


def _lenient_tags(export: ExportConfig, dataset: Dataset) -> tuple[ServiceTag, ...]:
    try:
        return _tags(export, dataset)
    except EgressError:
        return ()


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None


class ExportRunner:
    def __init__(
        self,
        sources: Sources,
        *,
        apply: bool,
        max_shrink: float,
        config_path: str,
        say: Say,
        growth: GrowthLimits | None = None,
    ) -> None:
        self.sources = sources
        self.apply = apply
        self.max_shrink = max_shrink
        self.growth = (growth or GrowthLimits()).validated()
        self.config_path = config_path
        self.say = say

    def run_all(
        self, exports: Sequence[ExportConfig | BrokenExport], known: Sequence[str]
    ) -> tuple[ExportReport, ...]:
        path = exports_state_path(self.config_path)
        states, note = load_export_states(path)
        reports = []
        for export in exports:
            report, state = self.run(export, states.get(export.name))
            if note:
                report = replace(report, notes=(note, *report.notes))
            if state is not None:
                states[export.name] = state
            reports.append(report)
        save_export_states(path, {n: s for n, s in states.items() if n in set(known)})
        return tuple(reports)

    def run(
        self, export: ExportConfig | BrokenExport, saved: ExportState | None
    ) -> tuple[ExportReport, ExportState | None]:
        if isinstance(export, BrokenExport):  # its entry did not parse: its error, the others go on
            paths = (export.path,) if export.path else ()
            return ExportReport(export.name, "-", paths, ERROR, message=export.message), None
        base = {"name": export.name, "format": export.request.format.name, "paths": (export.path,)}
        try:
            return self._run(export, saved, base)
        except SafetyError as exc:
            return ExportReport(**base, result=REFUSED, message=str(exc)), None
        except EgressError as exc:
            return ExportReport(**base, result=ERROR, message=str(exc)), None
        except Exception as exc:  # one export's bug must not stop the others; the message names it
            text = str(exc).splitlines()[0][:200] if str(exc) else ""
            message = f"unexpected {type(exc).__name__}: {text}; please report this as a bug."
            return ExportReport(**base, result=ERROR, message=message), None

    def _baseline(
        self, export: ExportConfig, saved: ExportState | None, data: Data, notes: list[str]
    ) -> dict[str, TagSize]:
        if saved is not None:
            if saved.settings == settings_digest(export):
                return dict(saved.tags)
            # Other settings: only the tags this export still asks for are a baseline.
            wanted = {t.lower() for t in export.request.tags}
            wanted |= {t.name.lower() for t in _lenient_tags(export, data.dataset)}
            return {n: s for n, s in saved.tags.items() if n.lower() in wanted}
        if data.fetch_previous is not None:
            previous = self.sources.baseline_file(data.fetch_previous)
            if previous is not None:
                notes.append(
                    f"first refresh of this export: compared with the previously cached {data.fetch_previous.name}"
                )
                return tag_sizes(_lenient_tags(export, previous), export.request.family)
        notes.append("no earlier data recorded for this export: the shrink guard starts with the next run")
        return {}

    def _run(
        self, export: ExportConfig, saved: ExportState | None, base: dict[str, Any]
    ) -> tuple[ExportReport, ExportState | None]:
        data: Data = self.sources.for_spec(export.spec)
        dataset = data.dataset
        expected = cloud_name(export.spec.cloud)
        if dataset.provenance.cloud.lower() != expected.lower():
            raise DataError(
                f"the data is for cloud {dataset.provenance.cloud!r} but the export is for {expected!r}; "
                "check its `cloud` or --data."
            )
        notes: list[str] = []
        digest = settings_digest(export)
        if saved is not None and saved.settings != digest:
            notes.append("the export's settings changed: its earlier prefixes are no baseline for the report")
        p = dataset.provenance
        if (
            saved is not None
            and data.automatic
            and saved.data.cloud.lower() == p.cloud.lower()
            and p.change_number is not None
            and saved.data.change_number is not None
            and p.change_number < saved.data.change_number
        ):
            message = (
                f"the data available (changeNumber {p.change_number}) is older than this export's "
                f"(changeNumber {saved.data.change_number}); the file keeps its data"
            )
            return ExportReport(**base, result=UNCHANGED, message=message, notes=tuple(notes)), None

        # The shrink guard, per tag and family, against the data the file last reflected.
        before = self._baseline(export, saved, data, notes)
        after = {}
        for name in before:
            tag = dataset.find(name)
            after[name] = tag_sizes([tag], export.request.family)[tag.name] if tag else None
        findings = check_shrink(before, after, self.max_shrink)
        if findings:
            shown = "; ".join(f.describe() for f in findings[:4])
            more = f" (and {len(findings) - 4} more)" if len(findings) > 4 else ""
            message = (
                f"shrink guard: {shown}{more} - more than --max-shrink {self.max_shrink:g}% since the last good "
                "data; the file was left as it is. Check the data (egress ranges diff), then rerun with a higher "
                "--max-shrink if the change is real."
            )
            return ExportReport(
                **base, result=REFUSED, message=message, shrink=findings, notes=tuple(notes)
            ), None

        tags = _tags(export, dataset)
        # Its mirror, the growth guard: default routes, too-wide prefixes, tags that grew too much.
        families = {"ipv4": (4,), "ipv6": (6,)}.get(export.request.family, (4, 6))
        grown = tuple(f for f in check_growth(before, tags, self.growth) if f.family in families)
        if grown:
            message = growth_refusal(grown, self.growth, outcome="the file was left as it is")
            return ExportReport(**base, result=REFUSED, message=message, notes=tuple(notes)), None
        export_set = build(export.request, tags, dataset)
        header = Header(
            tool_version=__version__,
            provenance=export_set.provenance_text(),
            command=f"egress refresh --config {self.config_path} --target-name {export.name} --apply",
        )
        files = [
            (Path(path), text)
            for path, _, text in files_for(export.request, export_set, header, export.path)
            if path
        ]
        notes += formats.notes(export.request.format, export_set)
        prefixes = export_set.prefixes()
        compared = saved is not None and saved.settings == digest
        old = set(saved.prefixes) if compared and saved is not None else set()
        added = tuple(p for p in prefixes if p not in old) if compared else ()
        removed = tuple(p for p in saved.prefixes if p not in set(prefixes)) if compared and saved else ()
        report = {
            **base,
            "paths": tuple(str(path) for path, _ in files),
            "count": len(prefixes),
            "added": added,
            "removed": removed,
            "compared": compared,
        }
        differs = [path for path, text in files if _read(path) != text]
        rerun_hook = bool(export.after) and saved is not None and not saved.hook_ok
        if not self.apply:
            if differs:
                what = ", ".join(str(p) for p in differs)
                return ExportReport(
                    **report,
                    result=PENDING,
                    message=f"would write {what} (dry run; pass --apply)",
                    notes=tuple(notes),
                ), None
            return ExportReport(**report, result=UNCHANGED, message="up to date", notes=tuple(notes)), None

        results = write_files(files)
        written = tuple(str(r.path) for r in results if r.changed)
        hook_paths = [r.path for r in results if r.changed or rerun_hook]
        hook_errors = []
        hook_text = None
        if export.after and hook_paths:
            for path in hook_paths:
                failure = run_hook(export.after, path, export.after_timeout)
                if failure:
                    hook_errors.append(failure)
            hook_text = (
                "; ".join(hook_errors) or f"ran `{' '.join(export.after)}` for {len(hook_paths)} file(s)"
            )
        state = ExportState(
            data=DataRef(p.sha256, p.cloud, p.change_number, p.file_date, data.path),
            settings=digest,
            tags=tag_sizes(tags, export.request.family),
            prefixes=prefixes,
            hook_ok=not hook_errors if hook_text is not None else (saved.hook_ok if saved else True),
            updated_at=utc_now(),
        )
        if hook_errors:
            message = f"wrote {', '.join(written) or 'nothing new'}, but the after hook failed: {'; '.join(hook_errors)}"
            return ExportReport(
                **report, result=ERROR, message=message, written=written, hook=hook_text, notes=tuple(notes)
            ), state
        if written:
            return ExportReport(
                **report,
                result=APPLIED,
                message=f"wrote {', '.join(written)}",
                written=written,
                hook=hook_text,
                notes=tuple(notes),
            ), state
        return ExportReport(
            **report, result=UNCHANGED, message="up to date", hook=hook_text, notes=tuple(notes)
        ), state
