"""Which earlier rendering `render` plans against: --previous, else the file --out is about to replace."""

from __future__ import annotations

from pathlib import Path


def earlier_file(previous: str | None, existing: Path | None) -> tuple[str, str] | None:
    """(path, the option that named it), or None when there is no earlier rendering to read."""
    if previous is not None:
        return previous, "--previous"
    if existing is None:
        return None
    try:
        present = existing.is_file()
    except (OSError, ValueError):  # a name too long, a NUL: writing the file reports it, with its own message
        present = False
    return (str(existing), "--out") if present else None
