"""`render`/`plan --place route-table --previous` (and `render --out`, which reads the file it replaces): every
route format egress writes is read back, and a budget cover keeps the routes the earlier rendering wrote."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from egress.cli import app
from egress.errors import DataError
from egress.places.route_table.readback import read_routes

runner = CliRunner()
FORMATS = {
    "arm": "egress-routes.json",
    "bicep": "egress-routes.bicep",
    "terraform": "egress-routes.tf",
    "azcli": "egress-routes.sh",
    "powershell": "egress-routes.ps1",
    "json": "egress-routes-plan.json",
}
BUDGET = ["--place", "route-table", "--option", "ip-ranges", "--region", "eastus", "--max-prefixes", "300"]


def week(shared: Path, date: str) -> str:
    return str(shared / "servicetags" / f"ServiceTags_Public_{date}.json")


def planned(shared: Path, date: str, *extra: str) -> dict[str, str]:
    result = runner.invoke(app, ["plan", *BUDGET, "--data", week(shared, date), "-o", "json", *extra])
    assert result.exit_code == 0, result.stderr
    return {r["name"]: r["properties"]["addressPrefix"] for r in json.loads(result.stdout)["routes"]}


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_every_format_reads_back_to_the_routes_it_holds(shared_data: Path, fmt: str) -> None:
    # Tag routes and CIDR routes (AzureBackup.EastUS has no UDR: its prefixes), to an appliance.
    inputs = ["--place", "route-table", "--option", "service-tags", "--expand-unusable", "--tag",
              "AzureBackup.EastUS", "--tag", "AzureActiveDirectory", "--next-hop", "VirtualAppliance",
              "--next-hop-ip", "10.0.1.4", "--data", week(shared_data, "20250127")]  # fmt: skip
    result = runner.invoke(app, ["render", *inputs, "--format", fmt])
    assert result.exit_code == 0, result.stderr
    routes = read_routes(result.stdout, where="t")
    plan = runner.invoke(app, ["plan", *inputs, "-o", "json"])
    want = {r["name"]: r["properties"]["addressPrefix"] for r in json.loads(plan.stdout)["routes"]}
    assert {r.name: r.address_prefix for r in routes} == want
    assert "AzureActiveDirectory" in want.values() and sum("/" in p for p in want.values()) == len(want) - 1


@pytest.mark.parametrize("fmt", ["terraform", "arm", "azcli"])
def test_render_out_keeps_last_weeks_cover(shared_data: Path, tmp_path: Path, fmt: str) -> None:
    out = tmp_path / "out"
    first = runner.invoke(app, ["render", *BUDGET, "--format", fmt, "--out", str(out), "--data",
                                week(shared_data, "20240610")])  # fmt: skip
    assert first.exit_code == 0 and first.stdout == "", first.stderr
    last_week = {r.name: r.address_prefix for r in read_routes((out / FORMATS[fmt]).read_text(), where="t")}
    second = runner.invoke(app, ["render", *BUDGET, "--format", fmt, "--out", str(out), "--data",
                                 week(shared_data, "20240617")])  # fmt: skip
    assert second.exit_code == 0, second.stderr
    assert second.stderr == f"wrote {out / FORMATS[fmt]}\n" and second.stdout == ""
    this_week = {r.name: r.address_prefix for r in read_routes((out / FORMATS[fmt]).read_text(), where="t")}
    fresh = planned(shared_data, "20240617")
    assert len(this_week) <= 300
    kept = set(this_week.items()) & set(last_week.items())
    assert len(kept) > len(set(fresh.items()) & set(last_week.items()))  # more routes stay than from scratch
    assert len(set(last_week) - set(this_week)) < len(set(last_week) - set(fresh))


def test_plan_previous_names_the_earlier_rendering(shared_data: Path, tmp_path: Path) -> None:
    earlier = tmp_path / "routes.sh"
    result = runner.invoke(
        app, ["render", *BUDGET, "--format", "azcli", "--data", week(shared_data, "20240610")]
    )
    earlier.write_text(result.stdout)
    held = {r.name for r in read_routes(result.stdout, where="t")}
    kept = planned(shared_data, "20240617", "--previous", str(earlier))
    fresh = planned(shared_data, "20240617")
    assert len(held & set(kept)) > len(held & set(fresh))


def test_an_nsg_rendering_is_no_route_rendering(shared_data: Path, tmp_path: Path) -> None:
    nsg = runner.invoke(app, ["render", "--region", "eastus", "--format", "terraform", "--data",
                              week(shared_data, "20250127")])  # fmt: skip
    path = tmp_path / "nsg.tf"
    path.write_text(nsg.stdout)
    result = runner.invoke(
        app, ["plan", *BUDGET, "--data", week(shared_data, "20250127"), "--previous", str(path)]
    )
    assert result.exit_code == 1 and result.stdout == ""
    assert result.stderr == (
        f"Error: --previous {path}: not a route-table rendering of egress (arm, bicep, terraform, azcli, "
        "powershell or plan JSON).\n"
    )


def test_a_firewall_policy_takes_no_previous(shared_data: Path, tmp_path: Path) -> None:
    result = runner.invoke(app, ["plan", "--place", "firewall-policy", "--region", "eastus", "--vnet", "10.0.0.0/16",
                                 "--firewall-ip", "10.0.1.4", "--previous", str(tmp_path / "x")])  # fmt: skip
    assert result.exit_code == 2 and result.stdout == ""
    assert "--previous applies to NSG rules and route tables" in result.stderr


def test_bad_renderings_are_one_line_data_errors() -> None:
    with pytest.raises(DataError, match="holds no route"):
        read_routes('{"routes": []}', where="f")
    with pytest.raises(DataError, match="is not one Azure accepts"):
        read_routes(
            '{"routes": [{"name": "bad name!", "properties": {"addressPrefix": "1.2.3.0/24"}}]}', where="f"
        )
    with pytest.raises(DataError, match="not valid JSON"):
        read_routes("{nope", where="f")
