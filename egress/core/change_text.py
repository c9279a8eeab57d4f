"""How a changed property reads in text, in any place's plan or refresh report: lists as what was added and
removed (the first three of each), scalars as before -> after."""

from __future__ import annotations

from typing import Any


def _as_list(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, list | tuple):
        return [str(v) for v in value]
    return [str(value)]


def describe_field(name: str, before: Any, after: Any) -> str:
    if isinstance(before, list) or isinstance(after, list):
        old, new = set(_as_list(before)), set(_as_list(after))
        added, removed = sorted(new - old), sorted(old - new)
        parts = []
        if added:
            parts.append("+" + ",".join(added[:3]) + (f" (+{len(added) - 3} more)" if len(added) > 3 else ""))
        if removed:
            parts.append(
                "-" + ",".join(removed[:3]) + (f" (-{len(removed) - 3} more)" if len(removed) > 3 else "")
            )
        return f"{name}: {' '.join(parts) or 'reordered'}"
    if before is None:
        return f"{name}: set to {after!r}"
    if after is None:
        return f"{name}: removed (was {before!r})"
    return f"{name}: {before!r} -> {after!r}"
