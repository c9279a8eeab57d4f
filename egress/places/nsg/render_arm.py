"""ARM: a deployable template with the NSG and its rules, built with a serializer (never a text template)."""

from __future__ import annotations

import json
from typing import Any

from egress.places.nsg.planner import RuleSet
from egress.render.arm_common import API_VERSION, SCHEMA, arm_literal, generator_metadata
from egress.render.common import RenderTarget
from egress.render.header import Header

FILE_NAME = "egress-nsg.json"
NSG_TYPE = "Microsoft.Network/networkSecurityGroups"


def template(ruleset: RuleSet, header: Header, target: RenderTarget) -> dict[str, Any]:
    """The template as a JSON-ready dict."""
    nsg_param: dict[str, Any] = {
        "type": "string",
        "metadata": {"description": "Name of the network security group to create or update."},
    }
    if target.name:
        nsg_param["defaultValue"] = arm_literal(target.name)
    group = target.resource_group or "<resource group>"
    return {
        "$schema": SCHEMA,
        "contentVersion": "1.0.0.0",
        "metadata": {
            "_generator": generator_metadata(header),
            "description": (
                "Creates or updates the NSG with exactly these security rules: a deployment replaces the rules "
                "(and tags) of an existing NSG of that name. Deploy with: az deployment group create "
                f"--resource-group {group} --template-file {FILE_NAME}"
            ),
        },
        "parameters": {
            "nsgName": nsg_param,
            "location": {
                "type": "string",
                "defaultValue": "[resourceGroup().location]",
                "metadata": {"description": "Azure region of the NSG (default: the resource group's)."},
            },
        },
        "resources": [
            {
                "type": NSG_TYPE,
                "apiVersion": API_VERSION,
                "name": "[parameters('nsgName')]",
                "location": "[parameters('location')]",
                "properties": {"securityRules": [arm_literal(rule.to_arm()) for rule in ruleset.rules]},
            }
        ],
    }


def render(ruleset: RuleSet, header: Header, target: RenderTarget) -> str:
    return json.dumps(template(ruleset, header, target), indent=2, sort_keys=True) + "\n"
