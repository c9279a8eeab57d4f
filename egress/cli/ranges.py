"""`egress ranges ...`: fetch, browse and compare Microsoft's service-tag data."""

from __future__ import annotations

import sys
from enum import StrEnum
from typing import TYPE_CHECKING

import typer

from egress.cli import app
from egress.cli import guard_options as g
from egress.cli.common import CLOUD_OPTION, DATA_OPTION, auth_method, emit_json, load, note, render_table
from egress.errors import UsageError

if TYPE_CHECKING:
    from egress.adapters.cache import FetchReport
    from egress.core.diff import DatasetDiff

ranges_app = typer.Typer(
    help="Fetch, browse and compare Azure IP ranges and service tags.", no_args_is_help=True
)
app.add_typer(ranges_app, name="ranges")


class TextOrJson(StrEnum):
    text = "text"
    json = "json"


class TableOrJson(StrEnum):
    table = "table"
    json = "json"


class Family(StrEnum):
    ipv4 = "ipv4"
    ipv6 = "ipv6"
    all = "all"


class Source(StrEnum):
    download = "download"
    api = "api"


# --------------------------------------------------------------------------------------------------- fetch


@ranges_app.command("fetch")
def fetch(
    cloud: str | None = CLOUD_OPTION,
    source: Source = typer.Option(
        Source.download, "--source", help="download (weekly file) | api (Discovery API)."
    ),
    page_url: str | None = typer.Option(
        None,
        "--page-url",
        help="Details page to search for the file link (default: Microsoft's page for the cloud).",
    ),
    subscription: str | None = typer.Option(None, "--subscription", help="Subscription ID (--source api)."),
    location: str | None = typer.Option(
        None, "--location", help="Any Azure region, e.g. eastus (--source api)."
    ),
    auth: str = typer.Option(
        "default", "--auth", help="default | cli | environment | managed-identity (--source api)."
    ),
    output: TextOrJson = typer.Option(TextOrJson.text, "--output", "-o", help="text | json."),
    max_growth: float = g.MAX_GROWTH,
    min_prefix_v4: int = g.MIN_PREFIX_V4,
    min_prefix_v6: int = g.MIN_PREFIX_V6,
) -> None:
    """Download the current weekly file (or ask the API), validate it and keep it in the cache."""
    from egress.core.model import cloud_key, cloud_name

    growth = g.growth_limits(max_growth, min_prefix_v4, min_prefix_v6)

    cloud = cloud_key(cloud_name(cloud or "public"))
    if source is Source.api:
        if page_url:
            raise UsageError("--page-url applies to --source download only.")
        missing = [
            flag for flag, value in (("--subscription", subscription), ("--location", location)) if not value
        ]
        if missing:
            raise UsageError(f"--source api needs {' and '.join(missing)}.")
        from egress.adapters.azure.target import subscription_id

        subscription = subscription_id(str(subscription))  # before any sign-in
        auth = auth_method(auth)
        from egress.adapters.download import fetch_api_to_cache

        report = fetch_api_to_cache(cloud, str(subscription), str(location), auth=auth, growth=growth)
    else:
        if subscription or location:
            raise UsageError("--subscription and --location apply to --source api only.")
        from egress.adapters.download import fetch_to_cache

        report = fetch_to_cache(cloud, page_url=page_url, progress=_progress_factory(), growth=growth)
    for line in report.notes:
        note(line)
    if output is TextOrJson.json:
        emit_json(report.to_dict())
    else:
        typer.echo(_fetch_text(report))


def _fetch_text(report: FetchReport) -> str:
    from egress.core.model import change_number_text

    date = report.file_date or "not in the name"
    how = report.located_by.replace("-", " ")
    lines = [
        f"{report.cloud} service tags: {change_number_text(report.change_number)}, file date {date}",
        f"  source:   {report.source} (via {how})",
        f"  entries:  {report.entries} tags, {report.prefixes} prefixes ({report.ipv4} IPv4, {report.ipv6} IPv6)",
        f"  stored:   {report.path}",
    ]
    if report.previous is None:
        lines.append("  content:  first file of this cloud in the cache")
    elif report.diff is None:
        lines.append(f"  content:  not compared ({report.previous.name} could not be read)")
    elif report.changed:
        d = report.diff
        lines.append(
            f"  content:  changed since {report.previous.name} ({change_number_text(report.previous_change_number)}): "
            f"{len(d.changed_tags)} tags changed, {len(d.added_tags)} added, {len(d.removed_tags)} removed, "
            f"+{d.prefixes_added}/-{d.prefixes_removed} prefixes"
        )
    else:
        lines.append(
            f"  content:  unchanged since {report.previous.name} "
            f"(changeNumber {_num(report.previous_change_number)} -> {_num(report.change_number)})"
        )
    return "\n".join(lines)


def _progress_factory():  # type: ignore[no-untyped-def]
    """A byte counter on stderr, only for a person watching a terminal."""
    if not sys.stderr.isatty():
        return None
    from egress.cli.common import ByteProgress

    return ByteProgress


# --------------------------------------------------------------------------------------------------- list


@ranges_app.command("list")
def list_tags(
    region: str | None = typer.Option(None, "--region", help="Only tags of this region (e.g. eastus)."),
    service: str | None = typer.Option(
        None, "--service", help="Only tags of this service: tag base or systemService, wildcards allowed."
    ),
    nsg_usable: bool = typer.Option(
        False, "--nsg-usable", help="Only tags an NSG accepts (files without networkFeatures: unknown, kept)."
    ),
    output: TableOrJson = typer.Option(TableOrJson.table, "--output", "-o", help="table | json."),
    data: str | None = DATA_OPTION,
    cloud: str | None = CLOUD_OPTION,
) -> None:
    """List service tags with their region, service, change number, prefix counts and NSG usability."""
    from egress.core.tag_query import select_tags, summarize

    dataset = load(data, cloud)
    rows = [summarize(t) for t in select_tags(dataset, region=region, service=service, nsg_usable=nsg_usable)]
    if output is TableOrJson.json:
        emit_json({"provenance": dataset.provenance.to_dict(), "tags": [r.to_dict() for r in rows]})
        return
    if not rows:
        note("no tags match these filters.")
        return
    typer.echo(
        render_table(
            ["NAME", "REGION", "SERVICE", "CHANGE", "IPV4", "IPV6", "NSG"],
            [
                [
                    r.name,
                    r.region or "-",
                    r.system_service or "-",
                    _num(r.change_number),
                    r.ipv4,
                    r.ipv6,
                    r.nsg,
                ]
                for r in rows
            ],
            numeric={3, 4, 5},
        )
    )


def _num(value: int | None) -> str:
    return "-" if value is None else str(value)


# --------------------------------------------------------------------------------------------------- show


@ranges_app.command("show")
def show(
    tag: str = typer.Argument(..., help="Service tag, e.g. Storage.EastUS (any case)."),
    family: Family = typer.Option(Family.all, "--family", help="ipv4 | ipv6 | all."),
    merge: bool = typer.Option(
        False, "--merge", help="Collapse adjacent and nested prefixes (same addresses)."
    ),
    output: TextOrJson = typer.Option(TextOrJson.text, "--output", "-o", help="text | json."),
    data: str | None = DATA_OPTION,
    cloud: str | None = CLOUD_OPTION,
) -> None:
    """Print a tag's prefixes, one per line, sorted numerically (IPv4 first)."""
    from egress.core.tag_query import nsg_status, tag_prefixes

    dataset = load(data, cloud)
    found = dataset.get(tag)
    prefixes = tag_prefixes(found, family=family.value, merge=merge)
    if output is TextOrJson.json:
        emit_json(
            {
                "tag": found.name,
                "region": found.region,
                "systemService": found.system_service,
                "changeNumber": found.change_number,
                "nsgUsable": {"yes": True, "no": False}.get(nsg_status(found)),
                "family": family.value,
                "merged": merge,
                "count": len(prefixes),
                "prefixes": prefixes,
                "provenance": dataset.provenance.to_dict(),
            }
        )
        return
    if not prefixes:
        what = "" if family is Family.all else f"{family.value} "
        note(f"{found.name} has no {what}prefixes.")
    for prefix in prefixes:
        typer.echo(prefix)


# --------------------------------------------------------------------------------------------------- lookup


@ranges_app.command("lookup")
def lookup(
    addresses: list[str] = typer.Argument(..., help="IP addresses (or prefixes) to look up."),
    output: TextOrJson = typer.Option(TextOrJson.text, "--output", "-o", help="text | json."),
    data: str | None = DATA_OPTION,
    cloud: str | None = CLOUD_OPTION,
) -> None:
    """Which service tags contain each address: one `ADDRESS TAG PREFIX` line per match."""
    from egress.core.tag_query import lookup as run_lookup
    from egress.core.tag_query import parse_query

    for text in addresses:  # a typo fails fast, before the data is loaded
        parse_query(text)
    dataset = load(data, cloud)
    results = run_lookup(dataset, addresses)
    if output is TextOrJson.json:
        emit_json({"provenance": dataset.provenance.to_dict(), "results": [r.to_dict() for r in results]})
        return
    rows: list[list[object]] = []
    for result in results:
        if not result.matches:
            rows.append([result.query, "(no tag)", "-"])
        rows.extend([result.query, m.tag, m.prefix] for m in result.matches)
    typer.echo(render_table(None, rows))


# --------------------------------------------------------------------------------------------------- diff


@ranges_app.command("diff")
def diff(
    old: str = typer.Argument(..., help="The older service-tag file."),
    new: str | None = typer.Argument(None, help="The newer file (default: the current data, see --data)."),
    tag: list[str] = typer.Option(
        [], "--tag", help="Only tags matching this pattern (fnmatch, any case); repeatable."
    ),
    output: TableOrJson = typer.Option(TableOrJson.table, "--output", "-o", help="table | json."),
    data: str | None = DATA_OPTION,
    cloud: str | None = CLOUD_OPTION,
) -> None:
    """Per tag: prefixes added and removed between two files (by content; a changeNumber bump alone is no change)."""
    from egress.adapters.datastore import load_file
    from egress.core.diff import diff_datasets

    if new is not None and data is not None:
        raise UsageError("give NEW or --data, not both.")
    old_ds = load_file(old)
    new_ds = load_file(new) if new is not None else load(data, cloud)
    if old_ds.provenance.cloud != new_ds.provenance.cloud:
        note(f"comparing different clouds ({old_ds.provenance.cloud} vs {new_ds.provenance.cloud}).")
    result = diff_datasets(old_ds, new_ds, tag)
    if output is TableOrJson.json:
        emit_json(result.to_dict())
        return
    typer.echo(_diff_text(result))


def _describe_side(label: str, prov: object) -> str:
    from egress.core.model import Provenance

    assert isinstance(prov, Provenance)
    return f"{label}: {prov.path or prov.source} ({prov.cloud}, changeNumber {_num(prov.change_number)})"


def _diff_text(result: DatasetDiff) -> str:
    lines = [_describe_side("old", result.old), _describe_side("new", result.new)]
    if result.patterns:
        lines.append("tags:  " + " ".join(result.patterns))
    if result.is_empty:
        lines.append("no changes")
        return "\n".join(lines)
    lines.append(
        f"{len(result.changed_tags)} tags changed, {len(result.added_tags)} added, {len(result.removed_tags)} "
        f"removed; +{result.prefixes_added}/-{result.prefixes_removed} prefixes"
    )
    lines.append("")
    lines.append(
        render_table(
            ["TAG", "STATUS", "ADDED", "REMOVED", "BEFORE", "AFTER", "OTHER"],
            [
                [
                    t.name,
                    t.status,
                    f"+{len(t.added)}",
                    f"-{len(t.removed)}",
                    t.old_count,
                    t.new_count,
                    ",".join(t.changed_fields) or "-",
                ]
                for t in result.tags
            ],
            numeric={2, 3, 4, 5},
        )
    )
    lines.append("")
    for t in result.tags:
        lines.extend(f"+ {t.name} {p}" for p in t.added)
        lines.extend(f"- {t.name} {p}" for p in t.removed)
    return "\n".join(lines).rstrip("\n")


# `ranges export` lives in its own module and attaches itself to the group.
from egress.cli import ranges_export  # noqa: E402, F401
