"""az CLI: a bash script running `az network nsg rule create` per rule, every value quoted for bash."""

from __future__ import annotations

from egress.places.nsg.planner import RuleSet
from egress.render.common import RenderTarget
from egress.render.header import Header
from egress.render.templates import render as render_template

FILE_NAME = "egress-nsg-rules.sh"
MODE = 0o755


def render(ruleset: RuleSet, header: Header, target: RenderTarget) -> str:
    return render_template(
        "nsg/rules.sh.j2",
        header=header.comment("#"),
        rules=ruleset.rules,
        left=ruleset.left,
        nsg_name=target.name,
        resource_group=target.resource_group,
        file_name=FILE_NAME,
    )
