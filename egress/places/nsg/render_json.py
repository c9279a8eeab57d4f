"""json: `egress plan --output json` plus the header (`_generator`), for review tools and pipelines."""

from __future__ import annotations

import json

from egress.places.nsg.planner import RuleSet
from egress.render.arm_common import generator_metadata
from egress.render.common import RenderTarget
from egress.render.header import Header

FILE_NAME = "egress-plan.json"


def render(ruleset: RuleSet, header: Header, target: RenderTarget) -> str:
    """The plan's JSON document unchanged, plus `_generator`; the target only appears in the command."""
    doc = {**ruleset.to_json(), "_generator": generator_metadata(header)}
    return json.dumps(doc, indent=2, sort_keys=True) + "\n"
