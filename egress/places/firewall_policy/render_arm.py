"""The firewall policy's serialized formats: ARM (a `ruleCollectionGroups` resource in an existing policy) and
JSON (the plan); each with the second artifact, the subnets' route to the firewall, from the route table place."""

from __future__ import annotations

import json
from typing import Any

from egress.places.firewall_policy.planner import FirewallPlan
from egress.places.route_table import render_arm as route_arm
from egress.places.route_table import render_json as route_json
from egress.render.arm_common import API_VERSION, SCHEMA, arm_literal, generator_metadata
from egress.render.common import RenderTarget
from egress.render.header import Header

RCG_TYPE = "Microsoft.Network/firewallPolicies/ruleCollectionGroups"
ARM_FILE = "egress-firewall-policy.json"
JSON_FILE = "egress-firewall-policy-plan.json"


def _arm(plan: FirewallPlan, header: Header, target: RenderTarget) -> str:
    policy: dict[str, Any] = {
        "type": "string",
        "metadata": {
            "description": "Name of the existing firewall policy the rule collection group goes into."
        },
    }
    if target.name:
        policy["defaultValue"] = arm_literal(target.name)
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


def files(name: str, text: str, routes: dict[str, str]) -> dict[str, str]:
    return {name: text, **routes}


def render_arm(plan: FirewallPlan, header: Header, target: RenderTarget) -> dict[str, str]:
    routes = {route_arm.FILE_NAME: route_arm.render(plan.routes, header, RenderTarget())}
    return files(ARM_FILE, _arm(plan, header, target), routes)


def render_json(plan: FirewallPlan, header: Header, target: RenderTarget) -> dict[str, str]:
    doc = {**plan.to_json(), "_generator": generator_metadata(header)}
    text = json.dumps(doc, indent=2, sort_keys=True) + "\n"
    return files(
        JSON_FILE, text, {route_json.FILE_NAME: route_json.render(plan.routes, header, RenderTarget())}
    )
