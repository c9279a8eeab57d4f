"""The one place human-readable output passes: stdout and stderr with control characters escaped.

Every command prints through click (typer.echo) to `sys.stdout`/`sys.stderr`; while a command runs those are
wrapped here, so a tag name, an Azure message or a file path from hostile input cannot drive the terminal.
JSON output is unchanged (json.dumps escapes control characters itself), and so are generated files (their
templates quote every value).
"""

from __future__ import annotations

import contextlib
import io
import sys
from collections.abc import Iterator
from typing import Any, TextIO

from egress.core.printable import printable


class PrintableStream(io.TextIOBase):
    """A text stream that escapes control characters on the way to `stream`.

    It has no `buffer`, so click writes through it rather than to the bytes underneath.
    """

    def __init__(self, stream: TextIO) -> None:
        self.unfiltered = stream  # for output egress composes itself (a progress line's `\r`)

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return getattr(self.unfiltered, "encoding", None) or "utf-8"

    @property
    def errors(self) -> str | None:  # type: ignore[override]
        return getattr(self.unfiltered, "errors", None)

    def writable(self) -> bool:
        return True

    def write(self, text: Any) -> int:
        if not isinstance(text, str):
            raise TypeError("PrintableStream takes text")
        self.unfiltered.write(printable(text))
        return len(text)

    def flush(self) -> None:
        self.unfiltered.flush()

    def isatty(self) -> bool:
        return self.unfiltered.isatty()

    def fileno(self) -> int:
        return self.unfiltered.fileno()


@contextlib.contextmanager
def printable_streams() -> Iterator[None]:
    """sys.stdout and sys.stderr escape control characters until the block ends."""
    out, err = sys.stdout, sys.stderr
    if isinstance(out, PrintableStream) or isinstance(err, PrintableStream):  # already inside one command
        yield
        return
    sys.stdout, sys.stderr = PrintableStream(out), PrintableStream(err)
    try:
        yield
    finally:
        sys.stdout, sys.stderr = out, err


def unfiltered_stderr() -> TextIO:
    """stderr for a line egress composes from escaped parts, keeping its own `\\r` (download progress)."""
    err = sys.stderr
    return err.unfiltered if isinstance(err, PrintableStream) else err
