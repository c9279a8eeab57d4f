"""`egress ranges export`: a tag's prefixes as an allow-list for a firewall that is not Azure's."""

from __future__ import annotations

import typer

from egress import __version__
from egress.cli.common import CLOUD_OPTION, DATA_OPTION, load, note
from egress.cli.ranges import ranges_app
from egress.errors import UsageError

FORMAT_NAMES = ("edl", "nftables", "ipset", "aerleon", "squid", "csv", "json")


@ranges_app.command("export")
def export(
    fmt: str = typer.Option(..., "--format", "-f", metavar="|".join(FORMAT_NAMES), help="What to write."),
    tag: list[str] | None = typer.Option(
        None, "--tag", metavar="TAG", help="Service tag to export (repeatable, any case)."
    ),
    family: str = typer.Option("all", "--family", metavar="ipv4|ipv6|all", help="Address families."),
    merge: bool = typer.Option(
        False, "--merge", help="Collapse adjacent and nested prefixes (same addresses)."
    ),
    max_prefixes: int | None = typer.Option(
        None, "--max-prefixes", metavar="K", help="At most K prefixes: the optimal over-approximation."
    ),
    name: str | None = typer.Option(
        None,
        "--name",
        metavar="NAME",
        help="Set / ACL / network name (default from the tag, e.g. azure_backup).",
    ),
    per_family: bool = typer.Option(False, "--per-family", help="edl, squid: one file per address family."),
    nft_table: str = typer.Option(
        "egress", "--nft-table", metavar="TABLE", help="nftables: the inet table holding the sets."
    ),
    out: str | None = typer.Option(
        None, "--out", metavar="FILE|DIR", help="Write here (only when changed). Default: print."
    ),
    data: str | None = DATA_OPTION,
    cloud: str = CLOUD_OPTION,
) -> None:
    """Export service tags' prefixes for Palo Alto (EDL), nftables, ipset, aerleon, squid, CSV or JSON."""
    from egress.places.allowlist.export import ExportRequest, build, export_command, files_for, resolve_tags
    from egress.places.allowlist.formats import Options, export_format, notes
    from egress.places.allowlist.model import check_family, check_name, default_name
    from egress.render.header import Header

    tags = [t for t in (tag or []) if t.strip()]
    if not tags:
        raise UsageError("give at least one --tag to export, e.g. --tag AzureBackup.")
    request = ExportRequest(
        format=export_format(fmt),
        tags=tuple(tags),
        name=check_name(name) if name is not None else default_name(tags),
        family=check_family(family),
        merge=merge,
        max_prefixes=max_prefixes,
        per_family=per_family,
        options=Options(nft_table=nft_table),
    ).checked()
    if max_prefixes is not None and max_prefixes < 1:
        raise UsageError(f"--max-prefixes must be at least 1, not {max_prefixes}.")
    if out is not None and not out.strip():
        raise UsageError("--out is empty: give a file or folder to write, or leave --out out to print.")
    dataset = load(data, cloud)
    export_set = build(request, resolve_tags(dataset, tags), dataset)
    header = Header(
        tool_version=__version__,
        provenance=export_set.provenance_text(),
        command=export_command(request, data=data, cloud=cloud, out=out),
    )
    files = files_for(request, export_set, header, out)
    for line in notes(request.format, export_set):
        note(line)
    if out is None:
        for index, (_, part, text) in enumerate(files):
            if len(files) > 1:
                if index:
                    typer.echo("")
                typer.echo(f"==> {part.family} <==")
            typer.echo(text, nl=False)
        return
    from egress.places.allowlist.target import write_files

    for result in write_files([(path, text) for path, _, text in files if path is not None]):
        typer.echo(f"{'wrote' if result.changed else 'unchanged'} {result.path}", err=True)
