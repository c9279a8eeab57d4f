"""Options and helpers shared by the command modules."""

from __future__ import annotations

import gc
import json
import sys
import time
from collections.abc import Callable, Collection, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from egress.errors import UsageError

# How a command reaches Azure, for every command that can (apply, refresh, verify, lint).
AUTH_OPTION = typer.Option(
    "default", "--auth", help="Credential for azure: targets: default | cli | environment | managed-identity."
)
ARM_ENDPOINT_OPTION = typer.Option(
    None,
    "--arm-endpoint",
    help="ARM endpoint URL for azure: targets (Azure Stack Hub, private clouds); also $EGRESS_ARM_ENDPOINT.",
)

if TYPE_CHECKING:
    from egress.core.model import Dataset

DATA_OPTION = typer.Option(
    None,
    "--data",
    help="Service-tag file (ServiceTags_*.json or PublicIPs XML). Default: newest cached, else bundled.",
)
CLOUD_OPTION = typer.Option(
    None, "--cloud", metavar="CLOUD", help="public | usgov | china | germany (default public)."
)


def out_folder(value: str | None) -> Path | None:
    """The --out folder, or None to print. Taken as text: a Path option would turn '' into '.' (this folder).

    An empty value is an unset variable or a slip, never a request to write into the current folder.
    """
    if value is None:
        return None
    if not value.strip():
        raise UsageError(
            "--out is empty: give the folder to write the files into, or leave --out out to print."
        )
    return Path(value)


def auth_method(value: str) -> str:
    """--auth, checked up front: a typo is an error even when the target turns out to be a local file.

    The method table lives with the credentials; that module imports no Azure SDK until a credential is made.
    """
    from egress.adapters.azure.credentials import AUTH_METHODS

    key = value.strip().lower()
    if key not in AUTH_METHODS:
        raise UsageError(f"unknown --auth {value!r}: use one of {', '.join(AUTH_METHODS)}.")
    return key


def emit_files(files: dict[str, str], out: Path | None, modes: dict[str, int] | None = None) -> None:
    """Print generated files with `==> name <==` separators, or write them into `out` (changed ones only).

    Written or not, each file's `wrote`/`unchanged` line goes to stderr, as `render` does: stdout carries
    nothing but the files themselves.
    """
    if out is None:
        for index, (name, text) in enumerate(files.items()):
            if index:
                typer.echo("")
            typer.echo(f"==> {name} <==")
            typer.echo(text, nl=False)
        return
    from egress.adapters.files import write_bundle

    for result in write_bundle(out, files, modes):
        typer.echo(f"{'wrote' if result.changed else 'unchanged'} {result.path}", err=True)


# Set by `egress.cli.main`: this process ends with its one command, so what it loads lives until exit.
ONE_SHOT = False


def load(data: str | None, cloud: str | None) -> Dataset:
    """Load the dataset for a command, printing the one-line notice (bundled data) on stderr.

    `cloud` None: not asked for (public, and any file given with --data is taken as it is); a cloud that was
    asked for must be the one a --data file is for.
    """

    dataset = _load(data, cloud or "public")
    if data is not None and cloud is not None:
        from egress.core.model import cloud_key, cloud_name

        if dataset.provenance.cloud.lower() != cloud_name(cloud).lower():
            raise UsageError(
                f"--data {data} is for cloud {dataset.provenance.cloud!r} "
                f"(--cloud {cloud_key(dataset.provenance.cloud)}), not --cloud {cloud}; "
                "give the file or the cloud the target is in."
            )
    return dataset


def _load(data: str | None, cloud: str) -> Dataset:
    from egress.adapters.datastore import load_dataset

    if not ONE_SHOT:
        loaded = load_dataset(data, cloud=cloud)
    else:
        # The dataset keeps the file's parsed entries (~10k containers, ~90k strings, no cycles) until exit:
        # freeze them out of the cycle collector's reach rather than let each later pass walk them again.
        enabled = gc.isenabled()
        gc.disable()
        try:
            loaded = load_dataset(data, cloud=cloud)
        finally:
            gc.freeze()
            if enabled:
                gc.enable()
    if loaded.notice:
        typer.echo(loaded.notice, err=True)
    return loaded.dataset


def note(message: str) -> None:
    """A remark for the person at the terminal (stderr), never part of the command's output."""
    from egress.core.urls import redact_urls

    typer.echo(f"egress: {redact_urls(message)}", err=True)


def emit_json(obj: object) -> None:
    typer.echo(json.dumps(obj, indent=2, ensure_ascii=False))


def render_table(
    headers: Sequence[str] | None, rows: Sequence[Sequence[object]], *, numeric: Collection[int] = ()
) -> str:
    """Plain aligned columns (two spaces apart), numbers right-aligned; no trailing blanks."""
    cells = [[str(c) for c in row] for row in rows]
    if headers:
        cells.insert(0, list(headers))
    if not cells:
        return ""
    widths = [max(len(row[i]) for row in cells) for i in range(len(cells[0]))]
    lines = []
    for row in cells:
        parts = [
            cell.rjust(widths[i]) if i in numeric else cell.ljust(widths[i]) for i, cell in enumerate(row)
        ]
        lines.append("  ".join(parts).rstrip())
    return "\n".join(lines)


class ByteProgress:
    """A one-line byte counter on stderr for downloads (`ProgressFactory` of egress.adapters.download)."""

    def __init__(self, total: int | None, url: str) -> None:
        self.total = total
        from egress.core.printable import printable

        self.name = printable(url.rsplit("/", 1)[-1] or url)
        self.done = 0
        self._last = -1.0

    def __enter__(self) -> Callable[[int], None]:
        self._draw()
        return self.advance

    def advance(self, count: int) -> None:
        self.done += count
        now = time.monotonic()
        if now - self._last >= 0.1:
            self._draw()
            self._last = now

    def _draw(self) -> None:
        mb = self.done / 1_000_000
        size = f"{mb:.1f}/{self.total / 1_000_000:.1f} MB" if self.total else f"{mb:.1f} MB"
        from egress.cli.streams import unfiltered_stderr

        err = unfiltered_stderr()
        err.write(f"\rDownloading {self.name}  {size}")
        err.flush()

    def __exit__(self, *exc: object) -> None:
        self._draw()
        sys.stderr.write("\n")
        sys.stderr.flush()
