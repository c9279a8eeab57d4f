"""Security rules as egress plans them: ARM `securityRules` objects plus what egress knows about each."""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Any

from egress.core.naming import MARKER

DEFAULT_OWNER = "egress-"  # the default --rule-prefix: its rules carry the bare MARKER
# `[egress]` (the default prefix's rules) or `[egress:<prefix>]`: the owner's prefix, recorded in the rule itself,
# so an apply under one prefix never takes (and deletes) the rules of a prefix that merely starts with it.
_OWNER_MARK = re.compile(r"\[egress(?::([A-Za-z0-9_][A-Za-z0-9_.-]*))?\]")


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


def with_priority(rule: PlannedRule, priority: int) -> PlannedRule:
    return replace(rule, priority=priority)


def owner_marker(rule_prefix: str) -> str:
    """The marker that starts the descriptions of the rules `rule_prefix` owns."""
    return MARKER if rule_prefix == DEFAULT_OWNER else f"[egress:{rule_prefix}]"


def recorded_owner(description: str | None) -> tuple[str, bool] | None:
    """(owner prefix, recorded explicitly) of an egress description; None when it carries no egress marker.

    The bare `[egress]` is the default prefix's mark, and also what egress wrote for every prefix before owners
    were recorded; the caller decides what a bare mark under another prefix means.
    """
    match = _OWNER_MARK.match(description or "")
    if match is None:
        return None
    return (match.group(1), True) if match.group(1) else (DEFAULT_OWNER, False)


def with_owner(description: str, rule_prefix: str, limit: int) -> str:
    """`description` (starting with the bare MARKER) marked for `rule_prefix`, within Azure's length limit."""
    text = owner_marker(rule_prefix) + description.removeprefix(MARKER)
    return text if len(text) <= limit else text[: limit - 1] + "…"
