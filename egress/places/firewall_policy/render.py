"""The firewall policy's formats. Each writes two files: the rule collection group, and the route table's
0.0.0.0/0 route to the firewall (rendered by the route table place's renderer of the same format).

ARM and JSON go through serializers; Bicep, Terraform, az CLI and PowerShell through templates in
templates/firewall_policy/, every value quoted for its language (Bicep object literals are built here, with
bicep_quote, as the NSG's Terraform lines are).
"""

from __future__ import annotations

import json
from typing import Any

from egress.places.firewall_policy.planner import FirewallPlan
from egress.places.route_table import render_arm as route_arm
from egress.places.route_table import render_json as route_json
from egress.places.route_table import render_text as route_text
from egress.render.header import Header
from egress.render.nsg_arm import API_VERSION, SCHEMA, arm_literal, generator_metadata
from egress.render.nsg_common import NsgTarget
from egress.render.quoting import bicep_quote
from egress.render.templates import render as render_template

RCG_TYPE = "Microsoft.Network/firewallPolicies/ruleCollectionGroups"
ARM_FILE = "egress-firewall-policy.json"
BICEP_FILE = "egress-firewall-policy.bicep"
TERRAFORM_FILE = "egress-firewall-policy.tf"
AZCLI_FILE = "egress-firewall-policy.sh"
AZCLI_MODE = 0o755
POWERSHELL_FILE = "egress-firewall-policy.ps1"
JSON_FILE = "egress-firewall-policy-plan.json"


def _arm(plan: FirewallPlan, header: Header, target: NsgTarget) -> str:
    policy: dict[str, Any] = {
        "type": "string",
        "metadata": {
            "description": "Name of the existing firewall policy the rule collection group goes into."
        },
    }
    if target.nsg_name:
        policy["defaultValue"] = arm_literal(target.nsg_name)
    group = target.resource_group or "<resource group>"
    doc = {
        "$schema": SCHEMA,
        "contentVersion": "1.0.0.0",
        "metadata": {
            "_generator": generator_metadata(header),
            "description": (
                f"Creates or updates the rule collection group {plan.spec.rcg_name} with exactly these rule "
                "collections (a deployment replaces the group's collections). Deploy with: az deployment group "
                f"create --resource-group {group} --template-file {ARM_FILE}"
            ),
        },
        "parameters": {"firewallPolicyName": policy},
        "resources": [
            {
                "type": RCG_TYPE,
                "apiVersion": API_VERSION,
                "name": f"[format('{{0}}/{{1}}', parameters('firewallPolicyName'), '{plan.spec.rcg_name}')]",
                "properties": arm_literal(
                    {"priority": plan.priority, "ruleCollections": list(plan.collections)}
                ),
            }
        ],
    }
    return json.dumps(doc, indent=2, sort_keys=True) + "\n"


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
    plan: FirewallPlan, header: Header, target: NsgTarget, style: str, file_name: str
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
        "policy_name": target.nsg_name,
        "resource_group": target.resource_group,
        "group": target.resource_group or "<resource group>",
        "file_name": file_name,
        "api_version": API_VERSION,
        "properties_lines": bicep_value(
            {"priority": plan.priority, "ruleCollections": list(plan.collections)}, 1
        ),
    }


def _files(name: str, text: str, routes: dict[str, str]) -> dict[str, str]:
    return {name: text, **routes}


def render_arm(plan: FirewallPlan, header: Header, target: NsgTarget) -> dict[str, str]:
    routes = {route_arm.FILE_NAME: route_arm.render(plan.routes, header, NsgTarget())}
    return _files(ARM_FILE, _arm(plan, header, target), routes)


def render_bicep(plan: FirewallPlan, header: Header, target: NsgTarget) -> dict[str, str]:
    text = render_template("firewall_policy/rcg.bicep.j2", **_context(plan, header, target, "//", BICEP_FILE))
    return _files(
        BICEP_FILE, text, {route_text.BICEP_FILE: route_text.render_bicep(plan.routes, header, NsgTarget())}
    )


def render_terraform(plan: FirewallPlan, header: Header, target: NsgTarget) -> dict[str, str]:
    text = render_template("firewall_policy/rcg.tf.j2", **_context(plan, header, target, "#", TERRAFORM_FILE))
    routes = {route_text.TERRAFORM_FILE: route_text.render_terraform(plan.routes, header, NsgTarget())}
    return _files(TERRAFORM_FILE, text, routes)


def render_azcli(plan: FirewallPlan, header: Header, target: NsgTarget) -> dict[str, str]:
    text = render_template("firewall_policy/rcg.sh.j2", **_context(plan, header, target, "#", AZCLI_FILE))
    return _files(
        AZCLI_FILE, text, {route_text.AZCLI_FILE: route_text.render_azcli(plan.routes, header, NsgTarget())}
    )


def render_powershell(plan: FirewallPlan, header: Header, target: NsgTarget) -> dict[str, str]:
    text = render_template(
        "firewall_policy/rcg.ps1.j2", **_context(plan, header, target, "ps", POWERSHELL_FILE)
    )
    routes = {route_text.POWERSHELL_FILE: route_text.render_powershell(plan.routes, header, NsgTarget())}
    return _files(POWERSHELL_FILE, text, routes)


def render_json(plan: FirewallPlan, header: Header, target: NsgTarget) -> dict[str, str]:
    doc = {**plan.to_json(), "_generator": generator_metadata(header)}
    text = json.dumps(doc, indent=2, sort_keys=True) + "\n"
    return _files(
        JSON_FILE, text, {route_json.FILE_NAME: route_json.render(plan.routes, header, NsgTarget())}
    )
