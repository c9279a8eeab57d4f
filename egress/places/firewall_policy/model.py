"""A firewall policy rule collection group document, read from ARM's shape (`properties.ruleCollections[]`) or
the flattened shape az prints (`ruleCollections[]` and `priority` at the top)."""

from __future__ import annotations

import copy
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from egress.core.model import ServiceTag
from egress.errors import TargetError
from egress.places.firewall_policy import limits


def fw_usable(tag: ServiceTag) -> bool:
    """Whether a network rule may name the tag (files without networkFeatures: assume yes)."""
    return tag.network_features is None or limits.FW_FEATURE in tag.network_features


@dataclass(frozen=True, slots=True)
class RuleCollection:
    name: str
    priority: int
    raw: dict[str, Any] = field(compare=False, repr=False)


@dataclass
class RuleCollectionGroup:
    name: str
    priority: int | None
    collections: list[RuleCollection]
    document: dict[str, Any] = field(repr=False, default_factory=dict)
    flattened: bool = False


def parse_rule_collection_group(obj: Any, *, source: str) -> RuleCollectionGroup:
    if not isinstance(obj, Mapping):
        raise TargetError(f"{source}: expected a JSON object describing one rule collection group.")
    flattened = not isinstance(obj.get("properties"), Mapping)
    props = obj if flattened else obj["properties"]
    if "ruleCollections" not in props and "priority" not in props:
        raise TargetError(
            f"{source}: not a rule collection group (no 'ruleCollections'); pass a REST GET of "
            ".../firewallPolicies/P/ruleCollectionGroups/G or `az network firewall policy rule-collection-group "
            "show -o json`."
        )
    raw = props.get("ruleCollections") or []
    if not isinstance(raw, list):
        raise TargetError(f"{source}: 'ruleCollections' must be a list.")
    collections = []
    for i, item in enumerate(raw):
        label = f"{source}: ruleCollections[{i}]"
        if not isinstance(item, Mapping) or not isinstance(item.get("name"), str) or not item["name"]:
            raise TargetError(f"{label}: needs a name.")
        priority = item.get("priority")
        if isinstance(priority, bool) or not isinstance(priority, int):
            raise TargetError(f"{label} ({item['name']}): priority must be an integer, got {priority!r}.")
        collections.append(RuleCollection(item["name"], priority, copy.deepcopy(dict(item))))
    priority = props.get("priority")
    name = obj.get("name")
    return RuleCollectionGroup(
        name=name if isinstance(name, str) else "",
        priority=priority if isinstance(priority, int) and not isinstance(priority, bool) else None,
        collections=collections,
        document=copy.deepcopy(dict(obj)),
        flattened=flattened,
    )


def with_collections(group: RuleCollectionGroup, after: Mapping[str, Any]) -> dict[str, Any]:
    """The document as read with its rule collections replaced; the group's own priority is kept, or set
    from `after["priority"]` when the group has none (egress creates it)."""
    doc = copy.deepcopy(group.document)
    target = doc if group.flattened else doc["properties"]
    target["ruleCollections"] = [copy.deepcopy(dict(c)) for c in after["ruleCollections"]]
    if group.priority is None:
        target["priority"] = after["priority"]
    return doc


def size_bytes(collections: Any) -> int:
    """The group's rules as Azure stores them, estimated by their compact JSON size."""
    return len(json.dumps(list(collections), separators=(",", ":")).encode())


def combinations(rule: Mapping[str, Any]) -> int:
    """Microsoft's unique source-destination count of one network rule."""
    protocols = len(rule.get("ipProtocols") or []) or 1
    sources = len(rule.get("sourceAddresses") or []) + len(rule.get("sourceIpGroups") or []) or 1
    destinations = (
        len(rule.get("destinationAddresses") or [])
        + len(rule.get("destinationIpGroups") or [])
        + len(rule.get("destinationFqdns") or [])
    ) or 1
    ports = math.ceil((len(rule.get("destinationPorts") or []) or 1) / limits.PORTS_PER_COMBINATION)
    return protocols * sources * destinations * ports
