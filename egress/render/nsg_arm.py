"""ARM: a deployable template with the NSG and its rules, built with a serializer (never a text template)."""

from __future__ import annotations

import json
from typing import Any

from egress.core.planner import RuleSet
from egress.render.header import Header
from egress.render.nsg_common import NsgTarget

FILE_NAME = "egress-nsg.json"
SCHEMA = "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#"
API_VERSION = "2023-09-01"  # the newest Microsoft.Network version the shipped schemas describe
NSG_TYPE = "Microsoft.Network/networkSecurityGroups"


def arm_literal(value: Any) -> Any:
    """Keep strings literal: ARM evaluates a string that starts with `[` and ends with `]`; `[[` escapes it."""
    if isinstance(value, str):
        return "[" + value if value.startswith("[") and value.endswith("]") else value
    if isinstance(value, list):
        return [arm_literal(item) for item in value]
    if isinstance(value, dict):
        return {key: arm_literal(item) for key, item in value.items()}
    return value


def generator_metadata(header: Header) -> dict[str, str]:
    """The header as JSON: ARM's conventional `_generator` object, plus where the data came from."""
    return {
        "name": "egress",
        "version": header.tool_version,
        "provenance": header.provenance,
        "command": header.command,
    }


def template(ruleset: RuleSet, header: Header, target: NsgTarget) -> dict[str, Any]:
    """The template as a JSON-ready dict."""
    nsg_param: dict[str, Any] = {
        "type": "string",
        "metadata": {"description": "Name of the network security group to create or update."},
    }
    if target.nsg_name:
        nsg_param["defaultValue"] = arm_literal(target.nsg_name)
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


def render(ruleset: RuleSet, header: Header, target: NsgTarget) -> str:
    return json.dumps(template(ruleset, header, target), indent=2, sort_keys=True) + "\n"
