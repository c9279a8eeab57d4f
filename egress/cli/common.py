"""Options and helpers shared by the command modules."""

from __future__ import annotations

import typer

from egress.core.model import Dataset

DATA_OPTION = typer.Option(
    None,
    "--data",
    help="Service-tag file (ServiceTags_*.json or PublicIPs XML). Default: newest cached, else bundled.",
)
CLOUD_OPTION = typer.Option("public", "--cloud", help="public | usgov | china | germany.")


def load(data: str | None, cloud: str) -> Dataset:
    """Load the dataset for a command, printing the one-line notice (bundled data) on stderr."""
    from egress.adapters.datastore import load_dataset

    loaded = load_dataset(data, cloud=cloud)
    if loaded.notice:
        typer.echo(loaded.notice, err=True)
    return loaded.dataset
