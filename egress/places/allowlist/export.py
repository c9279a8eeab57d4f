"""One export from data to text: resolve the tags, build the set, make each file's text (no I/O here)."""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from egress.core.model import Dataset, ServiceTag
from egress.places.allowlist import formats
from egress.places.allowlist.formats import Format, Options
from egress.places.allowlist.model import ExportSet, build_export
from egress.places.allowlist.target import plan_files
from egress.render.header import Header


@dataclass(frozen=True, slots=True)
class ExportRequest:
    """What to export, as the command line or a `[[exports]]` entry asks for it."""

    format: Format
    tags: tuple[str, ...]
    name: str
    family: str = "all"
    merge: bool = False
    max_prefixes: int | None = None
    per_family: bool = False
    options: Options = field(default_factory=Options)

    def checked(self) -> ExportRequest:
        formats.check_options(self.format, self.options, per_family=self.per_family)
        return self


def resolve_tags(dataset: Dataset, names: Sequence[str]) -> tuple[ServiceTag, ...]:
    found: list[ServiceTag] = []
    for name in names:
        tag = dataset.get(name)
        if tag not in found:
            found.append(tag)
    return tuple(found)


def build(request: ExportRequest, tags: Sequence[ServiceTag], dataset: Dataset) -> ExportSet:
    return build_export(
        tags,
        dataset.provenance,
        name=request.name,
        family=request.family,
        merge=request.merge,
        max_prefixes=request.max_prefixes,
    )


def export_command(request: ExportRequest, *, data: str | None, cloud: str, out: str | None) -> str:
    """`egress ranges export ...` that regenerates the file, flags in a fixed order."""
    words = ["egress", "ranges", "export", "--format", request.format.name]
    for tag in request.tags:
        words += ["--tag", tag]
    if request.family != "all":
        words += ["--family", request.family]
    if request.merge:
        words.append("--merge")
    if request.max_prefixes is not None:
        words += ["--max-prefixes", str(request.max_prefixes)]
    words += ["--name", request.name]
    if request.per_family:
        words.append("--per-family")
    if request.options.nft_table != formats.DEFAULT_NFT_TABLE:
        words += ["--nft-table", request.options.nft_table]
    if cloud != "public":
        words += ["--cloud", cloud]
    if data:
        words += ["--data", data]
    if out:
        words += ["--out", out]
    return shlex.join(words)


def files_for(
    request: ExportRequest, export: ExportSet, header: Header, out: str | None
) -> list[tuple[Path | None, ExportSet, str]]:
    """(path or None for stdout, the part exported, its text) per file."""
    return [
        (path, part, formats.generate(request.format, part, header, request.options))
        for path, part in plan_files(request.format, export, out, per_family=request.per_family)
    ]
