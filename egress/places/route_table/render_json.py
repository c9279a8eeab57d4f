"""json: `egress plan --place route-table --output json` plus the header (`_generator`)."""

from __future__ import annotations

import json

from egress.places.route_table.planner import RoutePlan
from egress.render.arm_common import generator_metadata
from egress.render.common import RenderTarget
from egress.render.header import Header

FILE_NAME = "egress-routes-plan.json"


def render(plan: RoutePlan, header: Header, target: RenderTarget) -> str:
    doc = {**plan.to_json(), "_generator": generator_metadata(header)}
    return json.dumps(doc, indent=2, sort_keys=True) + "\n"
