"""Read an earlier rendering's text from disk for `render`/`plan --previous`, whatever the place (bounded,
UTF-8, one-line errors); each place parses it (egress.places.nsg.readback, egress.places.route_table.readback)."""

from __future__ import annotations

from pathlib import Path

from egress.errors import DataError, UsageError

# An NSG holds at most 1,000 rules of at most 4,000 prefixes in all: every rendering of one is a few MB at most.
MAX_RENDERING_BYTES = 16 * 1024 * 1024


def read_text(path: str | Path, *, option: str = "--previous") -> str:
    """An earlier rendering's text, whatever the place (bounded, UTF-8; one-line errors naming `option`)."""
    p = Path(path)
    if not str(path).strip():
        raise UsageError(f"{option} is empty: give the file an earlier `egress render` wrote.")
    try:
        with p.open("rb") as handle:
            raw = handle.read(MAX_RENDERING_BYTES + 1)
    except FileNotFoundError:
        raise UsageError(f"{option} {path}: no such file.") from None
    except IsADirectoryError:
        raise UsageError(
            f"{option} {path}: is a directory; give the file an earlier `egress render` wrote."
        ) from None
    except (OSError, ValueError) as exc:
        raise DataError(
            f"{option} {path}: cannot read it ({getattr(exc, 'strerror', None) or exc})."
        ) from None
    if len(raw) > MAX_RENDERING_BYTES:
        raise DataError(
            f"{option} {path}: over {MAX_RENDERING_BYTES} bytes; that is not an egress rendering."
        )
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise DataError(f"{option} {path}: not UTF-8 text; that is not an egress rendering.") from None
