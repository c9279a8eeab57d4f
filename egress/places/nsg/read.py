"""Read an NSG target: a local JSON file (ARM or `az network nsg show` shape) or `-` for standard input.

`azure:` targets (a live NSG) are read through the Azure adapter (see target.AzureTarget), so verify, lint
and apply share one way of naming an NSG.
"""

from __future__ import annotations

import sys

from egress.adapters.documents import FILE_SCHEME, MAX_DOCUMENT_BYTES, load_document_json
from egress.errors import UsageError
from egress.places.nsg.model import Nsg, parse_nsg_document


def read_target(
    target: str, *, cloud: str = "public", arm_endpoint: str | None = None, auth: str = "default"
) -> Nsg:
    """The NSG named by `target`: `azure:/subscriptions/...` (or the bare id), `PATH`, `file:PATH` or `-`."""
    value = target.strip()
    if not value:
        raise UsageError("empty target: give a JSON file of the NSG (--nsg FILE) or --target PATH.")
    if value == "-" or value.lower() == FILE_SCHEME + "-":
        return parse_nsg_text(sys.stdin.buffer.read(MAX_DOCUMENT_BYTES + 1), source="<stdin>")
    from egress.places.nsg.target import (
        open_target,  # the one place that tells file and Azure targets apart
    )

    source = open_target(value, cloud=cloud, arm_endpoint=arm_endpoint, auth=auth)
    try:
        return source.read().nsg
    finally:
        source.close()


def parse_nsg_text(data: bytes, *, source: str) -> Nsg:
    return parse_nsg_document(load_document_json(data, source=source), source=source)
