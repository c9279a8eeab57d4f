"""Real-data cases for the route table and firewall policy renderers: the week of 2025-01-27."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

from egress.core.spec import EgressSpec
from egress.places import get_place
from egress.render.common import RenderTarget, plan_header
from tests.places.nsg.nsg_cases import DATA_NAME, VERSION, data_file, week

NAMED = RenderTarget(name="rt-backup", resource_group="rg-backup")
FW = dict(place="firewall-policy", vnet=("10.0.0.0/16",), firewall_ip="10.0.1.4")

# name -> (spec, target)
CASES: dict[str, tuple[EgressSpec, RenderTarget]] = {
    "route-table-eastus": (EgressSpec(place="route-table", region="eastus", data=DATA_NAME), RenderTarget()),
    "route-table-appliance": (
        EgressSpec(
            place="route-table",
            region="eastus",
            tags=("AzureBackup.EastUS", "AzureActiveDirectory"),
            expand_unusable=True,
            next_hop="VirtualAppliance",
            next_hop_ip="10.0.1.4",
            data=DATA_NAME,
        ),
        NAMED,
    ),
    "firewall-policy-eastus": (EgressSpec(region="eastus", data=DATA_NAME, **FW), RenderTarget()),  # type: ignore[arg-type]
    "firewall-policy-ranges": (
        EgressSpec(
            option="ip-ranges",
            tags=("AzureBackup", "Storage.{region}"),
            region="westeurope",
            rcg_name="rcg-backup",
            priority_start=300,
            data=DATA_NAME,
            **FW,  # type: ignore[arg-type]
        ),
        RenderTarget(name="fw-policy", resource_group="rg-hub"),
    ),
}
ROUTE_CASES = [c for c in CASES if c.startswith("route-table")]
FW_CASES = [c for c in CASES if c.startswith("firewall-policy")]
FORMATS = ("arm", "bicep", "terraform", "azcli", "powershell", "json")


@lru_cache(maxsize=8)
def _planned(path: str, case: str) -> Any:
    spec = CASES[case][0]
    return get_place(spec.place).plan(spec, week(path))


def planned(shared_data: Path, case: str) -> Any:
    return _planned(str(data_file(shared_data)), case)


def render(shared_data: Path, case: str, fmt: str) -> dict[str, str]:
    """{file name: text} of a format for a case, as `egress render` writes them (version TEST)."""
    spec, target = CASES[case]
    place = get_place(spec.place)
    plan = planned(shared_data, case)
    chosen = place.formats()[fmt]
    header = plan_header(plan, fmt, target, tool_version=VERSION)
    out = chosen.render(plan, header, target)
    return out if isinstance(out, dict) else {chosen.file_name: out}
