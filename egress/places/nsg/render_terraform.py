"""Terraform: `azurerm_network_security_rule` resources for an existing NSG, one per planned rule."""

from __future__ import annotations

import re
from typing import Any

from egress.places.nsg.planner import RuleSet
from egress.places.nsg.rules import PlannedRule
from egress.render.common import RenderTarget
from egress.render.header import Header
from egress.render.quoting import hcl_quote
from egress.render.templates import render as render_template
from egress.render.terraform_common import labels

FILE_NAME = "egress-nsg-rules.tf"
RESOURCE_TYPE = "azurerm_network_security_rule"

# azurerm's attribute order for readability: identity, then match fields, then the description.
_ORDER = (
    "name",
    "resource_group_name",
    "network_security_group_name",
    "priority",
    "direction",
    "access",
    "protocol",
    "source_port_range",
    "source_port_ranges",
    "destination_port_range",
    "destination_port_ranges",
    "source_address_prefix",
    "source_address_prefixes",
    "destination_address_prefix",
    "destination_address_prefixes",
    "description",
    "depends_on",
)


class Reference(list[str]):
    """A list of resource addresses: written bare, not as strings."""


def snake(name: str) -> str:
    """`destinationAddressPrefixes` -> `destination_address_prefixes` (azurerm names the ARM fields so)."""
    return re.sub(r"(?<!^)([A-Z])", r"_\1", name).lower()


def attributes(rule: PlannedRule, depends_on: list[str] | None = None) -> dict[str, Any]:
    """The resource's arguments: ARM's singular/plural choice carried over by name; values unquoted."""
    props = rule.to_arm()["properties"]
    attrs: dict[str, Any] = {
        "name": rule.name,
        "resource_group_name": None,  # variable references, filled in by _lines
        "network_security_group_name": None,
    }
    attrs.update({snake(key): value for key, value in props.items()})
    if depends_on:
        attrs["depends_on"] = Reference(depends_on)
    return {key: attrs[key] for key in _ORDER if key in attrs}


_VARIABLES = {
    "resource_group_name": "var.resource_group_name",
    "network_security_group_name": "var.network_security_group_name",
}


def _lines(attrs: dict[str, Any]) -> list[str]:
    """Argument lines exactly as `terraform fmt` (hclwrite) writes them: consecutive single-line arguments align
    their `=`; a line opening a multi-line value (`key = [`) is not part of any aligned run (one space each side)
    and ends the run before it, as do the value's own lines."""
    run: list[tuple[str, str]] = []
    lines: list[str] = []
    for key, value in attrs.items():
        if key in _VARIABLES:
            body = [_VARIABLES[key]]
        elif isinstance(value, int):
            body = [str(value)]
        elif isinstance(value, Reference):
            body = ["[", *[f"  {item}," for item in value], "]"]
        elif isinstance(value, list):
            body = ["[", *[f"  {hcl_quote(item)}," for item in value], "]"]
        else:
            body = [hcl_quote(value)]
        if len(body) == 1:
            run.append((key, body[0]))
            continue
        lines.extend(_aligned(run))
        run = []
        lines.append(f"{key} = {body[0]}")
        lines.extend(body[1:])
    lines.extend(_aligned(run))
    return lines


def _aligned(run: list[tuple[str, str]]) -> list[str]:
    width = max((len(key) for key, _ in run), default=0)
    return [f"{key.ljust(width)} = {value}" for key, value in run]


def _deny_dependencies(rules: tuple[PlannedRule, ...], names: list[str]) -> list[list[str]]:
    """Terraform creates resources in parallel: a deny waits for the allows of its direction, so a first apply
    never blocks traffic the allows are about to let through (and a destroy removes the deny first)."""
    out: list[list[str]] = []
    for rule in rules:
        if rule.access != "Deny":
            out.append([])
            continue
        out.append(
            [
                f"{RESOURCE_TYPE}.{name}"
                for name, other in zip(names, rules, strict=True)
                if other.access == "Allow" and other.direction == rule.direction
            ]
        )
    return out


def render(ruleset: RuleSet, header: Header, target: RenderTarget) -> str:
    names = labels(r.name for r in ruleset.rules)
    deps = _deny_dependencies(ruleset.rules, names)
    rules = [
        {"label": label, "lines": _lines(attributes(rule, dep))}
        for label, rule, dep in zip(names, ruleset.rules, deps, strict=True)
    ]
    return render_template(
        "nsg/rules.tf.j2",
        header=header.comment("#"),
        rules=rules,
        nsg_name=target.name,
        resource_group=target.resource_group,
    )
