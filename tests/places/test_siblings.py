"""The places are siblings: each imports neutral modules and its own, never another place's (statically, every
import in the source, lazy ones included; test_cli_places checks what a running `plan` loads)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PLACES = Path(__file__).resolve().parents[2] / "egress" / "places"
SIBLINGS = ("nsg", "route_table", "firewall_policy", "allowlist")
# The firewall policy's second artifact is a route table (default route to the firewall): the route table's plan.
ALLOWED = {("firewall_policy", "route_table")}
# Modules outside egress.places that are one place's and so count as it.
OWNED_ELSEWHERE = {"egress.adapters.azure.nsg_client": "nsg"}


def imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
    return names


def owner(module: str) -> str | None:
    parts = module.split(".")
    if parts[:2] == ["egress", "places"] and len(parts) > 2 and parts[2] in SIBLINGS:
        return parts[2]
    return OWNED_ELSEWHERE.get(module)


@pytest.mark.parametrize("place", SIBLINGS)
def test_a_place_imports_no_other_place(place: str) -> None:
    foreign = sorted(
        f"{path.name}: {name}"
        for path in (PLACES / place).glob("*.py")
        for name in imports(path)
        if (other := owner(name)) not in (None, place) and (place, other) not in ALLOWED
    )
    assert foreign == []


def test_the_check_sees_an_import() -> None:
    # Negative control: the NSG's place imports its own planner, which the scan must find.
    assert "egress.places.nsg.planner" in imports(PLACES / "nsg" / "place.py")
    assert owner("egress.places.nsg.planner") == "nsg" and owner("egress.core.model") is None


@pytest.mark.parametrize("client", ["route_table_client", "firewall_policy_client"])
def test_other_places_clients_build_on_the_neutral_arm_client(client: str) -> None:
    names = imports(PLACES.parent / "adapters" / "azure" / f"{client}.py")
    assert "egress.adapters.azure.arm_client" in names
    assert not any(owner(n) == "nsg" for n in names)
