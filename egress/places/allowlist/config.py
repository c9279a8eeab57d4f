"""`[[exports]]` entries of a refresh config: each an allow-list file that `egress refresh` keeps current."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any

from egress.core.spec import EgressSpec
from egress.errors import UsageError
from egress.places.allowlist import limits
from egress.places.allowlist.export import ExportRequest
from egress.places.allowlist.formats import DEFAULT_NFT_TABLE, Options, export_format
from egress.places.allowlist.model import check_family, check_name, slug
from egress.places.allowlist.target import check_hook, check_timeout

KEYS = (
    "name",
    "format",
    "tags",
    "path",
    "family",
    "merge",
    "max_prefixes",
    "set_name",
    "per_family",
    "nft_table",
    "after",
    "after_timeout",
    "region",
    "cloud",
    "data",
)


@dataclass(frozen=True, slots=True)
class ExportConfig:
    name: str
    path: str
    request: ExportRequest  # its tags may hold `{region}` (resolved against the data with `spec.region`)
    spec: EgressSpec  # [defaults] with this entry's region, cloud and data: where the data comes from
    after: tuple[str, ...] = ()
    after_timeout: float = limits.DEFAULT_HOOK_TIMEOUT


@dataclass(frozen=True, slots=True)
class BrokenExport:
    """An entry that does not parse: refresh reports it as that export's error and runs the others."""

    name: str
    path: str
    message: str


def _typed(table: dict[str, Any], key: str, kind: type | tuple[type, ...], what: str, label: str) -> Any:
    value = table.get(key)
    if value is None:
        return None
    if isinstance(value, bool) and kind is not bool:
        raise UsageError(f"{label}: `{key}` must be {what}.")
    if not isinstance(value, kind):
        raise UsageError(f"{label}: `{key}` must be {what}.")
    return value


def parse_export(table: Any, defaults: EgressSpec, label: str) -> ExportConfig:
    if not isinstance(table, dict):
        raise UsageError(f"{label}: must be a table.")
    unknown = sorted(set(table) - set(KEYS))
    if unknown:
        raise UsageError(f"{label}: unknown key(s) {', '.join(unknown)}; known keys: {', '.join(KEYS)}.")
    name = _typed(table, "name", str, "a string", label)
    if not name:
        raise UsageError(f"{label}: needs a `name`.")
    label = f"{label} ({name})"
    fmt = _typed(table, "format", str, "a string", label)
    if not fmt:
        raise UsageError(f"{label}: needs a `format` (edl, nftables, ipset, aerleon, squid, csv or json).")
    path = _typed(table, "path", str, "a string", label)
    if not path or not path.strip():
        raise UsageError(f"{label}: needs a `path` (the file to keep current).")
    tags = table.get("tags", list(defaults.tags))
    if isinstance(tags, str):
        tags = [tags]
    if not isinstance(tags, list) or not all(isinstance(t, str) and t.strip() for t in tags):
        raise UsageError(f"{label}: `tags` must be a list of service tag names.")
    set_name = _typed(table, "set_name", str, "a string", label)
    if set_name is None:
        set_name = slug(name)
        if not set_name:
            raise UsageError(f"{label}: give a `set_name` (the name {name!r} makes no set name).")
    max_prefixes = _typed(table, "max_prefixes", int, "an integer", label)
    if max_prefixes is not None and max_prefixes < 1:
        raise UsageError(f"{label}: `max_prefixes` must be at least 1.")
    try:
        request = ExportRequest(
            format=export_format(fmt),
            tags=tuple(tags) or ("Storage.{region}", "AzureBackup", "AzureActiveDirectory"),
            name=check_name(set_name, f"{label}: set_name"),
            family=check_family(_typed(table, "family", str, "a string", label) or "all"),
            merge=bool(_typed(table, "merge", bool, "true or false", label)),
            max_prefixes=max_prefixes,
            per_family=bool(_typed(table, "per_family", bool, "true or false", label)),
            options=Options(
                nft_table=_typed(table, "nft_table", str, "a string", label) or DEFAULT_NFT_TABLE
            ),
        ).checked()
    except UsageError as exc:
        if str(exc).startswith(label):
            raise
        raise UsageError(f"{label}: {exc}") from None
    spec = defaults
    for key in ("region", "cloud", "data"):
        value = _typed(table, key, str, "a string", label)
        if value is not None:
            spec = replace(spec, **{key: value})
    after = check_hook(table["after"], label) if "after" in table else ()
    timeout = (
        check_timeout(table["after_timeout"], label)
        if "after_timeout" in table
        else limits.DEFAULT_HOOK_TIMEOUT
    )
    if "after_timeout" in table and not after:
        raise UsageError(f"{label}: `after_timeout` needs `after` (the command to run).")
    return ExportConfig(name, path, request, spec, after, timeout)


def parse_exports(
    raw: Any, defaults: EgressSpec, where: str, taken: Iterable[str]
) -> tuple[ExportConfig | BrokenExport, ...]:
    """Every entry; one that does not parse (but has a name) comes back as a BrokenExport for refresh to report,
    so a typo in one export does not stop the NSGs or the other exports. Names and paths must be unique."""
    if not isinstance(raw, list):
        raise UsageError(f"{where}: `exports` must be an array of tables ([[exports]]).")
    seen = set(taken)
    out: list[ExportConfig | BrokenExport] = []
    for index, table in enumerate(raw):
        label = f"{where} exports[{index}]"
        name = table.get("name") if isinstance(table, dict) else None
        try:
            export: ExportConfig | BrokenExport = parse_export(table, defaults, label)
        except UsageError as exc:
            if not isinstance(name, str) or not name:
                raise  # without a name it cannot be reported on its own
            path = table.get("path") if isinstance(table.get("path"), str) else ""
            export = BrokenExport(name, path, str(exc))
        if export.name in seen:
            raise UsageError(
                f"{where} exports[{index}]: the name {export.name!r} is taken (targets and exports need their own)."
            )
        seen.add(export.name)
        out.append(export)
    paths: dict[str, str] = {}
    for export in out:
        if not export.path:
            continue
        if export.path in paths:
            raise UsageError(
                f"{where}: exports {paths[export.path]!r} and {export.name!r} both write {export.path}."
            )
        paths[export.path] = export.name
    return tuple(out)
