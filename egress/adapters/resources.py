"""Read the resources file of `egress path`: a JSON array of ARM resources (or az graph query's output)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from egress.errors import DataError, UsageError

# A Resource Graph export of a few thousand VMs with their networks is tens of MB; far beyond is not such a file.
MAX_RESOURCES_BYTES = 256 * 1024 * 1024


def read_resources(name: str) -> tuple[Any, str]:
    """The parsed JSON of `name` (a path, or `-` for stdin) and the label to name it by in messages."""
    value = name.strip()
    if not value:
        raise UsageError("--resources is empty: give the JSON file of ARM resources (see --help).")
    if value == "-":
        return _parse(sys.stdin.buffer.read(MAX_RESOURCES_BYTES + 1), "<stdin>"), "<stdin>"
    path = Path(value)
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_RESOURCES_BYTES + 1)
    except FileNotFoundError:
        raise DataError(f"{path}: no such file; give the JSON file of ARM resources.") from None
    except IsADirectoryError:
        raise DataError(f"{path}: is a directory; give the JSON file of ARM resources.") from None
    except PermissionError:
        raise DataError(f"{path}: permission denied; check the file's permissions.") from None
    except OSError as exc:
        raise DataError(f"{path}: cannot read ({exc.strerror or exc}).") from None
    return _parse(data, str(path)), str(path)


def _parse(data: bytes, source: str) -> Any:
    if len(data) > MAX_RESOURCES_BYTES:
        raise DataError(
            f"{source}: larger than {MAX_RESOURCES_BYTES // (1024 * 1024)} MiB; export only the VMs in question "
            "(--vm, or a narrower Resource Graph scope)."
        )
    try:
        text = data.decode("utf-8-sig")  # az on Windows may write a BOM
    except UnicodeDecodeError:
        raise DataError(f"{source}: not UTF-8 text; save the resources as JSON.") from None
    if not text.strip():
        raise DataError(f"{source}: empty file; expected a JSON array of ARM resources.")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise DataError(
            f"{source}: not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})."
        ) from None
    except RecursionError:
        raise DataError(f"{source}: JSON nested too deeply; not a resources file.") from None
