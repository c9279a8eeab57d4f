"""The text formats of the route table (Bicep, Terraform, az CLI, Az PowerShell), from templates/route_table/
with every value quoted by the template's filter for its language."""

from __future__ import annotations

from egress.places.route_table.planner import RoutePlan
from egress.render.header import Header
from egress.render.nsg_arm import API_VERSION
from egress.render.nsg_common import NsgTarget
from egress.render.nsg_terraform import labels
from egress.render.templates import render as render_template

BICEP_FILE = "egress-routes.bicep"
TERRAFORM_FILE = "egress-routes.tf"
AZCLI_FILE = "egress-routes.sh"
AZCLI_MODE = 0o755
POWERSHELL_FILE = "egress-routes.ps1"


def _context(
    plan: RoutePlan, header: Header, target: NsgTarget, style: str, file_name: str
) -> dict[str, object]:
    routes = [
        {
            "label": label,
            "name": r.name,
            "address_prefix": r.route.address_prefix,
            "next_hop_type": r.route.next_hop_type,
            "next_hop_ip": r.route.next_hop_ip,
        }
        for label, r in zip(labels(tuple(r.route for r in plan.routes)), plan.routes, strict=True)  # type: ignore[arg-type]
    ]
    return {
        "header": header.comment(style),  # type: ignore[arg-type]
        "routes": routes,
        "table_name": target.nsg_name,
        "resource_group": target.resource_group,
        "group": target.resource_group or "<resource group>",
        "file_name": file_name,
        "api_version": API_VERSION,
    }


def render_bicep(plan: RoutePlan, header: Header, target: NsgTarget) -> str:
    return render_template("route_table/routes.bicep.j2", **_context(plan, header, target, "//", BICEP_FILE))


def render_terraform(plan: RoutePlan, header: Header, target: NsgTarget) -> str:
    return render_template("route_table/routes.tf.j2", **_context(plan, header, target, "#", TERRAFORM_FILE))


def render_azcli(plan: RoutePlan, header: Header, target: NsgTarget) -> str:
    return render_template("route_table/routes.sh.j2", **_context(plan, header, target, "#", AZCLI_FILE))


def render_powershell(plan: RoutePlan, header: Header, target: NsgTarget) -> str:
    return render_template(
        "route_table/routes.ps1.j2", **_context(plan, header, target, "ps", POWERSHELL_FILE)
    )
