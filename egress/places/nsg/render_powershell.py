"""Az PowerShell: Get-AzNetworkSecurityGroup, one Add-AzNetworkSecurityRuleConfig per rule, one Set- at the end."""

from __future__ import annotations

from egress.places.nsg.planner import RuleSet
from egress.render.common import RenderTarget
from egress.render.header import Header
from egress.render.templates import render as render_template

FILE_NAME = "egress-nsg-rules.ps1"


def render(ruleset: RuleSet, header: Header, target: RenderTarget) -> str:
    return render_template(
        "nsg/rules.ps1.j2",
        header=header.comment("ps"),
        rules=ruleset.rules,
        left=ruleset.left,
        nsg_name=target.name,
        resource_group=target.resource_group,
        file_name=FILE_NAME,
    )
