"""The text formats of the route table (Bicep, Terraform, az CLI, Az PowerShell), from templates/route_table/
with every value quoted by the template's filter for its language."""

from __future__ import annotations

from egress.places.route_table.planner import RoutePlan
from egress.render.arm_common import API_VERSION
from egress.render.common import RenderTarget
from egress.render.header import Header
from egress.render.templates import render as render_template
from egress.render.terraform_common import labels

BICEP_FILE = "egress-routes.bicep"
TERRAFORM_FILE = "egress-routes.tf"
AZCLI_FILE = "egress-routes.sh"
AZCLI_MODE = 0o755
POWERSHELL_FILE = "egress-routes.ps1"


def _context(
    plan: RoutePlan, header: Header, target: RenderTarget, style: str, file_name: str
) -> dict[str, object]:
    routes = [
        {
            "label": label,
            "name": r.name,
            "address_prefix": r.route.address_prefix,
            "next_hop_type": r.route.next_hop_type,
            "next_hop_ip": r.route.next_hop_ip,
        }
        for label, r in zip(labels(r.route.name for r in plan.routes), plan.routes, strict=True)
    ]
    return {
        "header": header.comment(style),  # type: ignore[arg-type]
        "routes": routes,
        "table_name": target.name,
        "resource_group": target.resource_group,
        "group": target.resource_group or "<resource group>",
        "file_name": file_name,
        "api_version": API_VERSION,
    }


def render_bicep(plan: RoutePlan, header: Header, target: RenderTarget) -> str:
    return render_template("route_table/routes.bicep.j2", **_context(plan, header, target, "//", BICEP_FILE))


def render_terraform(plan: RoutePlan, header: Header, target: RenderTarget) -> str:
    return render_template("route_table/routes.tf.j2", **_context(plan, header, target, "#", TERRAFORM_FILE))


def render_azcli(plan: RoutePlan, header: Header, target: RenderTarget) -> str:
    return render_template("route_table/routes.sh.j2", **_context(plan, header, target, "#", AZCLI_FILE))


def render_powershell(plan: RoutePlan, header: Header, target: RenderTarget) -> str:
    return render_template(
        "route_table/routes.ps1.j2", **_context(plan, header, target, "ps", POWERSHELL_FILE)
    )
