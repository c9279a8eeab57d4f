"""The NSG document model shared by apply, verify and lint.

Two JSON shapes come in:
- ARM (REST GET output, ARM templates' resource body, PUT bodies): rules under `properties.securityRules[]`,
  each rule `{"name", "id", "properties": {...}}`;
- the flattened shape `az network nsg show -o json` prints: `securityRules[]` / `defaultSecurityRules[]` at the
  top level, every rule's properties next to its `name`, empty plurals as `[]` and absent ASGs as `null`.

Both become one `Nsg`; `to_arm_document` always writes ARM. Rule properties egress does not model (application
security groups, anything newer) ride along in `SecurityRule.extra`; unknown NSG-level keys survive in `Nsg.raw`.
Read-only per-rule state (`provisioningState`, rule `id`/`etag`/`type`) is dropped, so a rule read from Azure
compares equal to the same rule built locally.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from egress.core.addrset import canonical_protocol, looks_like_address, parse_network, port_set
from egress.errors import TargetError

DIRECTIONS = ("Inbound", "Outbound")
ACCESSES = ("Allow", "Deny")

# Rule properties egress models, ARM spelling -> SecurityRule field.
_SINGLE = {
    "sourceAddressPrefix": "source_address_prefix",
    "destinationAddressPrefix": "destination_address_prefix",
    "sourcePortRange": "source_port_range",
    "destinationPortRange": "destination_port_range",
}
_PLURAL = {
    "sourceAddressPrefixes": "source_address_prefixes",
    "destinationAddressPrefixes": "destination_address_prefixes",
    "sourcePortRanges": "source_port_ranges",
    "destinationPortRanges": "destination_port_ranges",
}
_MODELLED = {"access", "description", "direction", "priority", "protocol", *_SINGLE, *_PLURAL}
_RULE_READ_ONLY = {"provisioningState"}
# Resource-level keys of a rule (everything else in the flattened shape is a property).
_RULE_RESOURCE_KEYS = {"name", "id", "etag", "type", "properties", "resourceGroup"}
# Resource-level keys of an NSG in ARM; in the flattened shape everything else is a property.
_NSG_RESOURCE_KEYS = ("id", "name", "type", "location", "tags", "etag")
_NSG_DROP = {"resourceGroup"}  # added by az, not part of the resource
_NSG_READ_ONLY = ("etag", "provisioningState", "resourceGuid", "defaultSecurityRules", "networkInterfaces",
                  "subnets", "flowLogs")  # fmt: skip
_TAG_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9._-]*$")


@dataclass(frozen=True)
class SecurityRule:
    """One security rule, fields as ARM names them (singular and plural kept apart, as the API does).

    The constructor does not validate; `from_arm` does, and the evaluator rejects what it cannot read.
    """

    name: str
    priority: int
    direction: str  # Inbound | Outbound
    access: str  # Allow | Deny
    protocol: str  # * | Tcp | Udp | Icmp | Esp | Ah
    source_address_prefix: str | None = None
    source_address_prefixes: tuple[str, ...] = ()
    destination_address_prefix: str | None = None
    destination_address_prefixes: tuple[str, ...] = ()
    source_port_range: str | None = None
    source_port_ranges: tuple[str, ...] = ()
    destination_port_range: str | None = None
    destination_port_ranges: tuple[str, ...] = ()
    description: str | None = None
    extra: dict[str, Any] = field(default_factory=dict, hash=False)

    @property
    def sources(self) -> tuple[str, ...]:
        """Every source address entry, singular first (what the rule matches is their union)."""
        return _entries(self.source_address_prefix, self.source_address_prefixes)

    @property
    def destinations(self) -> tuple[str, ...]:
        return _entries(self.destination_address_prefix, self.destination_address_prefixes)

    @property
    def source_ports(self) -> tuple[str, ...]:
        return _entries(self.source_port_range, self.source_port_ranges)

    @property
    def destination_ports(self) -> tuple[str, ...]:
        return _entries(self.destination_port_range, self.destination_port_ranges)

    @property
    def uses_asgs(self) -> bool:
        """Whether the rule names application security groups (membership is unknown offline)."""
        return bool(self.extra.get("sourceApplicationSecurityGroups")) or bool(
            self.extra.get("destinationApplicationSecurityGroups")
        )

    @classmethod
    def from_arm(cls, obj: Any, *, where: str = "rule", context: str = "") -> SecurityRule:
        """Read one rule in either shape: `{"name", "properties": {...}}` or flattened (az).

        `where` names the rule's position for errors before its name is known; `context` prefixes messages.
        """
        if not isinstance(obj, Mapping):
            raise TargetError(f"{where}: expected a JSON object, got {_kind(obj)}.")
        name = obj.get("name")
        if not isinstance(name, str) or not name.strip():
            raise TargetError(f"{where}: has no name.")
        label = f"{context}rule {name!r}"
        if isinstance(obj.get("properties"), Mapping):
            props = dict(obj["properties"])
        elif "properties" in obj and obj["properties"] is not None:
            raise TargetError(f"{label}: 'properties' must be an object, got {_kind(obj['properties'])}.")
        else:
            props = {k: v for k, v in obj.items() if k not in _RULE_RESOURCE_KEYS}
        props = {k: v for k, v in props.items() if v is not None and k not in _RULE_READ_ONLY}

        values: dict[str, Any] = {
            "name": name,
            "priority": _priority(props.get("priority"), label),
            "direction": _choice(props.get("direction"), DIRECTIONS, "direction", label),
            "access": _choice(props.get("access"), ACCESSES, "access", label),
            "protocol": _protocol(props.get("protocol"), label),
        }
        description = props.get("description")
        if description is not None and not isinstance(description, str):
            raise TargetError(f"{label}: description must be a string.")
        values["description"] = description or None
        for arm, attr in _SINGLE.items():
            values[attr] = _single(props.get(arm), arm, label)
        for arm, attr in _PLURAL.items():
            values[attr] = _plural(props.get(arm), arm, label)
        rule = cls(**values, extra={k: v for k, v in props.items() if k not in _MODELLED})
        rule._check_fields(label)
        return rule

    def _check_fields(self, label: str) -> None:
        for side in ("source", "destination"):
            ports = self.source_ports if side == "source" else self.destination_ports
            if not ports:
                raise TargetError(f"{label}: has neither {side}PortRange nor {side}PortRanges.")
            for entry in ports:
                try:
                    port_set(entry)
                except ValueError as exc:
                    raise TargetError(f"{label}: {side} port {exc}.") from None
            entries = self.sources if side == "source" else self.destinations
            if not entries and not self.extra.get(f"{side}ApplicationSecurityGroups"):
                raise TargetError(
                    f"{label}: has no {side}AddressPrefix, {side}AddressPrefixes or "
                    f"{side}ApplicationSecurityGroups."
                )
            for entry in entries:
                _check_address_entry(entry, f"{label}: {side} address")

    def to_arm(self) -> dict[str, Any]:
        """`{"name": ..., "properties": {...}}` with camelCase keys, sorted; empty plurals omitted."""
        props: dict[str, Any] = dict(self.extra)
        props.update(
            access=self.access, direction=self.direction, priority=self.priority, protocol=self.protocol
        )
        if self.description:
            props["description"] = self.description
        for arm, attr in _SINGLE.items():
            if getattr(self, attr) is not None:
                props[arm] = getattr(self, attr)
        for arm, attr in _PLURAL.items():
            if getattr(self, attr):
                props[arm] = list(getattr(self, attr))
        return {"name": self.name, "properties": {k: props[k] for k in sorted(props)}}


def _entries(single: str | None, plural: Sequence[str]) -> tuple[str, ...]:
    return ((single,) if single else ()) + tuple(plural)


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean"}.get(
        type(value), type(value).__name__
    )


def _priority(value: Any, label: str) -> int:
    """A JSON number only: the REST API (and so `apply`) refuses `"200"`, so lint and verify must not read it."""
    if isinstance(value, bool) or value is None:
        raise TargetError(f"{label}: priority must be an integer, got {_kind(value)}.")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        raise TargetError(
            f"{label}: priority must be an integer, got the string {value!r}; "
            f"Azure takes a JSON number: write {value.strip()} without quotes."
        )
    raise TargetError(f"{label}: priority must be an integer, got {value!r}.")


def _choice(value: Any, allowed: Sequence[str], what: str, label: str) -> str:
    if isinstance(value, str):
        for option in allowed:
            if option.lower() == value.strip().lower():
                return option
    shown = "nothing" if value is None else repr(value)
    raise TargetError(f"{label}: {what} must be {' or '.join(allowed)}, got {shown}.")


def _protocol(value: Any, label: str) -> str:
    if not isinstance(value, str):
        raise TargetError(f"{label}: protocol must be a string such as Tcp or '*', got {_kind(value)}.")
    try:
        return canonical_protocol(value)
    except ValueError as exc:
        raise TargetError(f"{label}: protocol {exc}.") from None


def _single(value: Any, arm: str, label: str) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise TargetError(f"{label}: {arm} must be a string, got {_kind(value)}.")
    return value.strip()


def _plural(value: Any, arm: str, label: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise TargetError(f"{label}: {arm} must be a list of non-empty strings.")
    return tuple(v.strip() for v in value)


def _check_address_entry(entry: str, label: str) -> None:
    """Syntax only: `*`, an IP/CIDR, or a tag-shaped word (whether the tag exists needs the data)."""
    if entry == "*":
        return
    if looks_like_address(entry):
        try:
            parse_network(entry)
        except ValueError as exc:
            raise TargetError(f"{label}: {exc}.") from None
        return
    if not _TAG_NAME.match(entry):
        raise TargetError(f"{label}: {entry!r} is neither an IP/CIDR prefix, '*' nor a service tag name.")


def _rule(
    name: str, priority: int, direction: str, access: str, src: str, dst: str, description: str
) -> SecurityRule:
    return SecurityRule(
        name=name,
        priority=priority,
        direction=direction,
        access=access,
        protocol="*",
        source_address_prefix=src,
        destination_address_prefix=dst,
        source_port_range="*",
        destination_port_range="*",
        description=description,
    )


# The six rules Azure puts in every NSG (names, priorities, prefixes and descriptions as the API returns them).
DEFAULT_RULES: tuple[SecurityRule, ...] = (
    _rule("AllowVnetInBound", 65000, "Inbound", "Allow", "VirtualNetwork", "VirtualNetwork",
          "Allow inbound traffic from all VMs in VNET"),
    _rule("AllowAzureLoadBalancerInBound", 65001, "Inbound", "Allow", "AzureLoadBalancer", "*",
          "Allow inbound traffic from azure load balancer"),
    _rule("DenyAllInBound", 65500, "Inbound", "Deny", "*", "*", "Deny all inbound traffic"),
    _rule("AllowVnetOutBound", 65000, "Outbound", "Allow", "VirtualNetwork", "VirtualNetwork",
          "Allow outbound traffic from all VMs to all VMs in VNET"),
    _rule("AllowInternetOutBound", 65001, "Outbound", "Allow", "*", "Internet",
          "Allow outbound traffic from all VMs to Internet"),
    _rule("DenyAllOutBound", 65500, "Outbound", "Deny", "*", "*", "Deny all outbound traffic"),
)  # fmt: skip


@dataclass
class Nsg:
    """One NSG. `rules` are the custom rules; `default_rules` the document's (or DEFAULT_RULES when absent).

    `raw` is the document in ARM shape as read, so unknown top-level properties survive `to_arm_document`.
    """

    name: str
    id: str | None = None
    location: str | None = None
    etag: str | None = None
    rules: list[SecurityRule] = field(default_factory=list)
    default_rules: list[SecurityRule] = field(default_factory=lambda: list(DEFAULT_RULES))
    raw: dict[str, Any] = field(default_factory=dict)

    def rules_for(self, direction: str) -> list[SecurityRule]:
        """Custom then default rules of one direction in evaluation order (priority, then name)."""
        chosen = [r for r in (*self.rules, *self.default_rules) if r.direction == direction]
        return sorted(chosen, key=lambda r: (r.priority, r.name))


def parse_nsg_document(obj: Any, *, source: str = "NSG document") -> Nsg:
    """Read an NSG in ARM shape (REST GET) or the flattened `az network nsg show` shape."""
    if not isinstance(obj, Mapping):
        raise TargetError(f"{source}: expected a JSON object describing one NSG, got {_kind(obj)}.")
    if isinstance(obj.get("value"), list) and "properties" not in obj:
        raise TargetError(f"{source}: holds a list of NSGs; save a single NSG (e.g. `az network nsg show`).")
    if "security_rules" in obj or "default_security_rules" in obj:
        raise TargetError(
            f"{source}: looks like Azure SDK as_dict() output (snake_case); "
            "use the REST or `az network nsg show -o json` JSON."
        )
    doc = _to_arm_shape(obj, source)
    props = doc["properties"]
    name = doc.get("name")
    if name is not None and not isinstance(name, str):
        raise TargetError(f"{source}: 'name' must be a string.")
    rules = _rules(props.get("securityRules"), "securityRules", source)
    if "defaultSecurityRules" in props:
        defaults = _rules(props.get("defaultSecurityRules"), "defaultSecurityRules", source)
    else:
        defaults = list(DEFAULT_RULES)
    return Nsg(
        name=name or "",
        id=_opt_str(doc.get("id")),
        location=_opt_str(doc.get("location")),
        etag=_opt_str(doc.get("etag")),
        rules=rules,
        default_rules=defaults,
        raw=doc,
    )


def _opt_str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _to_arm_shape(obj: Mapping[str, Any], source: str) -> dict[str, Any]:
    if "properties" in obj:
        if not isinstance(obj["properties"], Mapping):
            raise TargetError(f"{source}: 'properties' must be an object, got {_kind(obj['properties'])}.")
        doc = copy.deepcopy(dict(obj))
        doc["properties"] = dict(doc["properties"])
        return doc
    if "securityRules" not in obj and "defaultSecurityRules" not in obj:
        raise TargetError(
            f"{source}: not an NSG document (no 'properties' and no 'securityRules'); "
            "pass the JSON of `az network nsg show -o json` or a REST GET of the NSG."
        )
    doc: dict[str, Any] = {}
    props: dict[str, Any] = {}
    for key, value in obj.items():
        if key in _NSG_DROP or value is None:
            continue
        if key in _NSG_RESOURCE_KEYS:
            doc[key] = copy.deepcopy(value)
        else:
            props[key] = copy.deepcopy(value)
    doc["properties"] = props
    return doc


def _rules(value: Any, key: str, source: str) -> list[SecurityRule]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise TargetError(f"{source}: '{key}' must be a list, got {_kind(value)}.")
    return [
        SecurityRule.from_arm(item, where=f"{source}: {key}[{i}]", context=f"{source}: ")
        for i, item in enumerate(value)
    ]


def _rule_order(rule: SecurityRule) -> tuple[int, int, str]:
    return (DIRECTIONS.index(rule.direction) if rule.direction in DIRECTIONS else 2, rule.priority, rule.name)


def to_arm_document(nsg: Nsg, *, include_read_only: bool = True) -> dict[str, Any]:
    """The NSG in ARM shape: `raw` with name/id/location/etag and both rule lists written from the model.

    Rules are sorted by direction (Inbound, Outbound), then priority. `defaultSecurityRules` is written only if
    the source document had it. `include_read_only=False` gives a PUT body (no etag, state or default rules).
    """
    doc = copy.deepcopy(nsg.raw)
    props = dict(doc.get("properties") or {})
    for key, value in (("name", nsg.name), ("id", nsg.id), ("location", nsg.location), ("etag", nsg.etag)):
        if value:
            doc[key] = value
        else:
            doc.pop(key, None)
    props["securityRules"] = [r.to_arm() for r in sorted(nsg.rules, key=_rule_order)]
    if "defaultSecurityRules" in props:
        props["defaultSecurityRules"] = [r.to_arm() for r in sorted(nsg.default_rules, key=_rule_order)]
    if not include_read_only:
        for key in _NSG_READ_ONLY:
            props.pop(key, None)
            doc.pop(key, None)
    doc["properties"] = {k: props[k] for k in sorted(props)}
    return {k: doc[k] for k in sorted(doc)}
