"""Regressions found reviewing the places end to end (each failed before its fix)."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from egress.cli import app
from tests.places.test_cli_places import FW

runner = CliRunner()


@pytest.mark.parametrize("priority", ["5000", "65000"])
def test_firewall_group_priority_takes_the_firewalls_range_not_the_nsgs(priority: str) -> None:
    result = runner.invoke(app, ["plan", *FW, "--priority-start", priority, "-o", "json"])
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["ruleCollectionGroup"]["properties"]["priority"] == int(priority)


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        ([*FW, "--priority-start", "65001"], "outside the firewall's 100-65000"),
        ([*FW, "--priority-start", "99"], "outside the firewall's 100-65000"),
        (["--region", "eastus", "--priority-start", "5000"], "outside Azure's range 100-4096"),
    ],
)
def test_each_place_checks_its_own_priority_range(args: list[str], needle: str) -> None:
    result = runner.invoke(app, ["plan", *args])
    assert result.exit_code == 2, result.stdout
    assert result.stderr.startswith("Error: ") and needle in result.stderr and result.stderr.count("\n") == 1


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--place", "route-table", "--option", "ip-ranges", "--max-prefixes", "5000"], "400 routes per route table"),
        (["--place", "route-table", "--max-prefixes", "50"], "--max-prefixes applies to --option ip-ranges"),
        ([*FW, "--max-prefixes", "5"], "--max-prefixes does not apply to --place firewall-policy"),
        ([*FW, "--option", "ip-ranges", "--max-prefixes", "5"], "--max-prefixes does not apply"),
        (["--option", "ip-ranges", "--max-prefixes", "5000"], "4000 destination prefixes per NSG"),
    ],
)  # fmt: skip
def test_max_prefixes_is_checked_by_the_place_and_never_silently_ignored(
    args: list[str], needle: str
) -> None:
    result = runner.invoke(app, ["plan", "--region", "eastus", *args])
    assert result.exit_code == 2, result.stdout
    assert result.stderr.startswith("Error: ") and needle in result.stderr and result.stderr.count("\n") == 1
