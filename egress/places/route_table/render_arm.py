"""ARM: one `Microsoft.Network/routeTables/routes` child resource per route, into an existing route table (so
its other routes stay), built with a serializer."""

from __future__ import annotations

import json
from typing import Any

from egress.places.route_table.planner import RoutePlan
from egress.render.arm_common import API_VERSION, SCHEMA, arm_literal, generator_metadata
from egress.render.common import RenderTarget
from egress.render.header import Header

FILE_NAME = "egress-routes.json"
ROUTE_TYPE = "Microsoft.Network/routeTables/routes"


def template(plan: RoutePlan, header: Header, target: RenderTarget) -> dict[str, Any]:
    table_param: dict[str, Any] = {
        "type": "string",
        "metadata": {"description": "Name of the existing route table the routes go into."},
    }
    if target.name:
        table_param["defaultValue"] = arm_literal(target.name)
    group = target.resource_group or "<resource group>"
    return {
        "$schema": SCHEMA,
        "contentVersion": "1.0.0.0",
        "metadata": {
            "_generator": generator_metadata(header),
            "description": (
                f"Creates or updates {len(plan.routes)} routes in an existing route table; its other routes are "
                "kept. Deploy with: az deployment group create "
                f"--resource-group {group} --template-file {FILE_NAME}"
            ),
        },
        "parameters": {"routeTableName": table_param},
        "resources": [
            {
                "type": ROUTE_TYPE,
                "apiVersion": API_VERSION,
                "name": f"[format('{{0}}/{{1}}', parameters('routeTableName'), '{r.name}')]",
                "properties": arm_literal(r.route.properties()),
            }
            for r in plan.routes
        ],
    }


def render(plan: RoutePlan, header: Header, target: RenderTarget) -> str:
    return json.dumps(template(plan, header, target), indent=2, sort_keys=True) + "\n"
