"""How egress names and marks what it writes, in every place: Azure's name rule, the ownership marker that
starts each description, and the slug a tag becomes inside a name."""

from __future__ import annotations

import re

MARKER = "[egress]"  # every description egress writes starts with this; ownership needs name prefix + marker

# Azure's names for rules (and the --rule-prefix that starts them): 1-80 characters, starting with a word
# character, ending with a word character or `_`, with `.`, `-`, `_` inside.
RULE_NAME = re.compile(r"^\w(?:[\w.-]{0,78}\w)?$", re.ASCII)

_SLUG_DROP = re.compile(r"[^a-z0-9-]+")


def slug(tag: str) -> str:
    """`Storage.EastUS` -> `storage-eastus` (for rule, route and collection names)."""
    return _SLUG_DROP.sub("", tag.lower().replace(".", "-").replace("_", "-")).strip("-") or "tag"
