"""The firewall policy's text formats (Bicep, Terraform, az CLI, Az PowerShell) from templates/firewall_policy/,
every value quoted for its language; Bicep object literals are built here with bicep_quote (as the NSG's
Terraform lines are). Each comes with the route table place's file of the same format for the firewall route."""

from __future__ import annotations

from typing import Any

from egress.places.firewall_policy.planner import FirewallPlan
from egress.places.firewall_policy.render_arm import files
from egress.places.route_table import render_text as route_text
from egress.render.arm_common import API_VERSION
from egress.render.common import RenderTarget
from egress.render.header import Header
from egress.render.quoting import bicep_quote
from egress.render.templates import render as render_template

BICEP_FILE = "egress-firewall-policy.bicep"
TERRAFORM_FILE = "egress-firewall-policy.tf"
AZCLI_FILE = "egress-firewall-policy.sh"
AZCLI_MODE = 0o755
POWERSHELL_FILE = "egress-firewall-policy.ps1"


def bicep_value(value: Any, indent: int) -> list[str]:
    """A JSON value as Bicep lines (the first line without indentation, the rest indented)."""
    pad = "  " * indent
    if isinstance(value, dict):
        lines = ["{"]
        for key, item in value.items():
            body = bicep_value(item, indent + 1)
            lines.append(f"{pad}  {key}: {body[0]}")
            lines.extend(body[1:])
        return [*lines, f"{pad}}}"]
    if isinstance(value, list):
        lines = ["["]
        for item in value:
            body = bicep_value(item, indent + 1)
            lines.append(f"{pad}  {body[0]}")
            lines.extend(body[1:])
        return [*lines, f"{pad}]"]
    if isinstance(value, bool):
        return ["true" if value else "false"]
    if isinstance(value, int):
        return [str(value)]
    return [bicep_quote(str(value))]


def _context(
    plan: FirewallPlan, header: Header, target: RenderTarget, style: str, file_name: str
) -> dict[str, Any]:
    collections = []
    for c in plan.collections:
        kind = "application" if c["rules"][0]["ruleType"] == "ApplicationRule" else "network"
        rules = [
            {**r, "protocol_words": [f"{p['protocolType']}={p['port']}" for p in r.get("protocols", [])]}
            for r in c["rules"]
        ]
        collections.append({**c, "kind": kind, "rules": rules})
    return {
        "header": header.comment(style),  # type: ignore[arg-type]
        "plan": plan,
        "rcg_name": plan.spec.rcg_name,
        "priority": plan.priority,
        "collections": collections,
        "policy_name": target.name,
        "resource_group": target.resource_group,
        "group": target.resource_group or "<resource group>",
        "file_name": file_name,
        "api_version": API_VERSION,
        "properties_lines": bicep_value(
            {"priority": plan.priority, "ruleCollections": list(plan.collections)}, 1
        ),
    }


def render_bicep(plan: FirewallPlan, header: Header, target: RenderTarget) -> dict[str, str]:
    text = render_template("firewall_policy/rcg.bicep.j2", **_context(plan, header, target, "//", BICEP_FILE))
    return files(
        BICEP_FILE,
        text,
        {route_text.BICEP_FILE: route_text.render_bicep(plan.routes, header, RenderTarget())},
    )


def render_terraform(plan: FirewallPlan, header: Header, target: RenderTarget) -> dict[str, str]:
    text = render_template("firewall_policy/rcg.tf.j2", **_context(plan, header, target, "#", TERRAFORM_FILE))
    routes = {route_text.TERRAFORM_FILE: route_text.render_terraform(plan.routes, header, RenderTarget())}
    return files(TERRAFORM_FILE, text, routes)


def render_azcli(plan: FirewallPlan, header: Header, target: RenderTarget) -> dict[str, str]:
    text = render_template("firewall_policy/rcg.sh.j2", **_context(plan, header, target, "#", AZCLI_FILE))
    return files(
        AZCLI_FILE,
        text,
        {route_text.AZCLI_FILE: route_text.render_azcli(plan.routes, header, RenderTarget())},
    )


def render_powershell(plan: FirewallPlan, header: Header, target: RenderTarget) -> dict[str, str]:
    text = render_template(
        "firewall_policy/rcg.ps1.j2", **_context(plan, header, target, "ps", POWERSHELL_FILE)
    )
    routes = {route_text.POWERSHELL_FILE: route_text.render_powershell(plan.routes, header, RenderTarget())}
    return files(POWERSHELL_FILE, text, routes)
