"""Read an NSG target: a local JSON file (ARM or `az network nsg show` shape) or `-` for standard input.

`azure:` targets (a live NSG) are read through the Azure adapter (see nsg_target.AzureTarget), so verify, lint
and apply share one way of naming an NSG.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from egress.core.nsg import Nsg, parse_nsg_document
from egress.errors import TargetError, UsageError

MAX_NSG_BYTES = 32 * 1024 * 1024  # a full NSG (1,000 rules x 4,000 prefixes) is a few MB
AZURE_SCHEME = "azure:"
FILE_SCHEME = "file:"


def read_target(
    target: str, *, cloud: str = "public", arm_endpoint: str | None = None, auth: str = "default"
) -> Nsg:
    """The NSG named by `target`: `azure:/subscriptions/...` (or the bare id), `PATH`, `file:PATH` or `-`."""
    value = target.strip()
    if not value:
        raise UsageError("empty target: give a JSON file of the NSG (--nsg FILE) or --target PATH.")
    if value == "-" or value.lower() == FILE_SCHEME + "-":
        return parse_nsg_text(sys.stdin.buffer.read(MAX_NSG_BYTES + 1), source="<stdin>")
    from egress.adapters.nsg_target import (
        open_target,  # the one place that tells file and Azure targets apart
    )

    source = open_target(value, cloud=cloud, arm_endpoint=arm_endpoint, auth=auth)
    try:
        return source.read().nsg
    finally:
        source.close()


def read_nsg_bytes(path: Path, *, what: str = "NSG") -> bytes:
    """The file's bytes, at most MAX_NSG_BYTES + 1 (so /dev/zero or a huge file fails with a message); `what` names
    the resource the file holds (the places beyond the NSG read their documents here too)."""
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_NSG_BYTES + 1)
    except FileNotFoundError:
        raise TargetError(f"{path}: no such file; check the {what} path.") from None
    except IsADirectoryError:
        raise TargetError(f"{path}: is a directory; pass the {what}'s JSON file.") from None
    except PermissionError:
        raise TargetError(f"{path}: permission denied; check the file's permissions.") from None
    except OSError as exc:
        raise TargetError(f"{path}: cannot read ({exc.strerror or exc}).") from None
    return data


def parse_nsg_text(data: bytes, *, source: str) -> Nsg:
    return parse_nsg_document(load_nsg_json(data, source=source), source=source)


def load_nsg_json(data: bytes, *, source: str, what: str = "NSG") -> Any:
    """The JSON value of an NSG (or `what`) file, with one-line errors for what is not JSON text."""
    noun = "an NSG" if what == "NSG" else f"a {what}"
    if len(data) > MAX_NSG_BYTES:
        raise TargetError(f"{source}: larger than {MAX_NSG_BYTES // (1024 * 1024)} MiB; not {noun} document.")
    try:
        text = data.decode("utf-8-sig")  # az on Windows may write a BOM
    except UnicodeDecodeError:
        raise TargetError(f"{source}: not UTF-8 text; save the {what} as JSON.") from None
    if not text.strip():
        how = (
            "with `az network nsg show -o json`"
            if what == "NSG"
            else "as JSON (a REST GET or az's `show -o json`)"
        )
        raise TargetError(f"{source}: empty file; save the {what} {how}.")
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as exc:
        raise TargetError(
            f"{source}: not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})."
        ) from None
    except RecursionError:
        raise TargetError(f"{source}: JSON nested too deeply; not {noun} document.") from None
    return obj
