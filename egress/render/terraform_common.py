"""What every place's Terraform shares: resource labels made from Azure names."""

from __future__ import annotations

import re
from collections.abc import Iterable

_LABEL_DROP = re.compile(r"[^A-Za-z0-9_-]+")


def labels(names: Iterable[str]) -> list[str]:
    """A unique Terraform resource label per name, in order (identifiers start with a letter or `_`)."""
    used: set[str] = set()
    out: list[str] = []
    for name in names:
        base = _LABEL_DROP.sub("_", name.replace(".", "_").replace("-", "_")) or "rule"
        if not (base[0].isalpha() or base[0] == "_"):
            base = "rule_" + base
        label, n = base, 2
        while label in used:
            label, n = f"{base}_{n}", n + 1
        used.add(label)
        out.append(label)
    return out
