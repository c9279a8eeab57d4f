"""`egress ranges ...`: fetch, browse and compare Microsoft's service-tag data."""

from __future__ import annotations

import typer

from egress.cli import app
from egress.cli.common import CLOUD_OPTION, DATA_OPTION, load

ranges_app = typer.Typer(
    help="Fetch, browse and compare Azure IP ranges and service tags.", no_args_is_help=True
)
app.add_typer(ranges_app, name="ranges")


@ranges_app.command("show")
def show(
    tag: str = typer.Argument(..., help="Service tag, e.g. Storage.EastUS (any case)."),
    data: str | None = DATA_OPTION,
    cloud: str = CLOUD_OPTION,
) -> None:
    """Print a tag's prefixes, one per line."""
    dataset = load(data, cloud)
    for prefix in dataset.get(tag).prefixes:
        typer.echo(prefix)
