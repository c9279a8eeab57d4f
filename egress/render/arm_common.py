"""What every place's ARM template shares: the schema and API version, literal strings, the generator metadata."""

from __future__ import annotations

from typing import Any

from egress.render.header import Header

SCHEMA = "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#"
API_VERSION = "2023-09-01"  # the newest Microsoft.Network version the shipped schemas describe


def arm_literal(value: Any) -> Any:
    """Keep strings literal: ARM evaluates a string that starts with `[` and ends with `]`; `[[` escapes it."""
    if isinstance(value, str):
        return "[" + value if value.startswith("[") and value.endswith("]") else value
    if isinstance(value, list):
        return [arm_literal(item) for item in value]
    if isinstance(value, dict):
        return {key: arm_literal(item) for key, item in value.items()}
    return value


def generator_metadata(header: Header) -> dict[str, str]:
    """The header as JSON: ARM's conventional `_generator` object, plus where the data came from."""
    return {
        "name": "egress",
        "version": header.tool_version,
        "provenance": header.provenance,
        "command": header.command,
    }
