"""Security rules as egress plans them: ARM `securityRules` objects plus what egress knows about each."""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Any

MARKER = "[egress]"  # every description egress writes starts with this; ownership needs name prefix + marker


@dataclass(frozen=True, slots=True)
class PlannedRule:
    name: str
    direction: str
    access: str
    protocol: str
    source: tuple[str, ...]
    destination: tuple[str, ...]
    destination_ports: tuple[str, ...] = ("*",)
    source_ports: tuple[str, ...] = ("*",)
    description: str = ""
    priority: int = 0
    # What the rule is for (not sent to Azure): the tag it comes from, its family, how many addresses it holds.
    tag: str | None = None
    family: int | None = None
    kind: str = "allow"
    meta: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    def to_arm(self) -> dict[str, Any]:
        """The ARM shape: one entry goes in the singular field, several in the plural list (never both)."""
        props: dict[str, Any] = {
            "access": self.access,
            "description": self.description,
            "direction": self.direction,
            "priority": self.priority,
            "protocol": self.protocol,
        }
        _put(props, "sourceAddressPrefix", self.source)
        _put(props, "sourcePortRange", self.source_ports)
        _put(props, "destinationAddressPrefix", self.destination)
        _put(props, "destinationPortRange", self.destination_ports)
        return {"name": self.name, "properties": dict(sorted(props.items()))}

    @property
    def destination_count(self) -> int:
        return len(self.destination)

    def content_key(self) -> tuple[Any, ...]:
        """Everything Azure stores except the description and priority (which egress may carry over)."""
        return (
            self.name,
            self.direction,
            self.access,
            self.protocol,
            self.source,
            self.destination,
            self.source_ports,
            self.destination_ports,
        )


def _put(props: dict[str, Any], singular: str, values: tuple[str, ...]) -> None:
    if len(values) == 1:
        props[singular] = values[0]
    else:
        props[singular.replace("Prefix", "Prefixes").replace("Range", "Ranges")] = list(values)


_SLUG_DROP = re.compile(r"[^a-z0-9-]+")


def slug(tag: str) -> str:
    """`Storage.EastUS` -> `storage-eastus` (for rule names)."""
    return _SLUG_DROP.sub("", tag.lower().replace(".", "-").replace("_", "-")).strip("-") or "tag"


def with_priority(rule: PlannedRule, priority: int) -> PlannedRule:
    return replace(rule, priority=priority)
