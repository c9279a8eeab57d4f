"""Bicep: the same NSG resource as the ARM template, written from a template with Bicep's string escaping."""

from __future__ import annotations

from egress.places.nsg.planner import RuleSet
from egress.places.nsg.render_arm import NSG_TYPE
from egress.render.arm_common import API_VERSION
from egress.render.common import RenderTarget
from egress.render.header import Header
from egress.render.templates import render as render_template

FILE_NAME = "egress-nsg.bicep"


def render(ruleset: RuleSet, header: Header, target: RenderTarget) -> str:
    return render_template(
        "nsg/nsg.bicep.j2",
        header=header.comment("//"),
        rules=[rule.to_arm() for rule in ruleset.rules],
        nsg_name=target.name,
        group=target.resource_group or "<resource group>",
        file_name=FILE_NAME,
        nsg_type=NSG_TYPE,
        api_version=API_VERSION,
    )
