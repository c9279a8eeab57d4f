"""Reading an earlier rendering back (`render --previous`): every format egress writes gives back its rules."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from egress.cli import app
from egress.errors import DataError
from egress.places.nsg.formats import FORMATS
from egress.places.nsg.readback import read_rendering
from tests.places.nsg import nsg_cases


@pytest.mark.parametrize("case", list(nsg_cases.CASES))
@pytest.mark.parametrize("fmt", list(FORMATS))
def test_every_format_reads_back_to_its_rules(shared_data: Path, fmt: str, case: str) -> None:
    text = nsg_cases.render(shared_data, case, fmt)
    earlier = read_rendering(text, where="f")
    expected = {r.name: (r.direction, r.priority) for r in nsg_cases.ruleset(shared_data, case).rules}
    assert earlier.rules == expected
    assert earlier.left == {}
    assert earlier.fmt == ("json" if fmt in ("arm", "json") else fmt)


def test_plan_json_reads_back(shared_data: Path) -> None:
    plan = nsg_cases.ruleset(shared_data, "ip-ranges-eastus").to_json()
    earlier = read_rendering(json.dumps(plan, indent=2), where="plan.json")
    assert len(earlier.rules) == len(plan["rules"])


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("hello\n", "not an NSG rendering of egress"),
        ("{", "not valid JSON"),
        ("[]", "not an NSG rendering of egress"),
        ('{"rules": []}', "holds no security rule"),
        ('{"a": 1}', "neither an ARM template nor"),
        (
            '{"rules": [{"name": "r", "properties": {"direction": "Outbound", "priority": 99}}]}',
            "priority 99",
        ),
        ('{"rules": [{"name": "r", "properties": {"direction": "Up", "priority": 200}}]}', "direction 'Up'"),
        (
            '{"rules": [{"name": "a b", "properties": {"direction": "Outbound", "priority": 200}}]}',
            "rule name",
        ),
        (
            '{"rules": [{"name": "r", "properties": {"direction": "Outbound", "priority": true}}]}',
            "priority True",
        ),
        ('{"rules": ["r"]}', "without `properties`"),
    ],
)
def test_what_is_not_a_rendering_is_one_clear_error(text: str, message: str) -> None:
    with pytest.raises(DataError, match=message):
        read_rendering(text, where="f")


def test_cli_previous_errors_are_one_line(tmp_path: Path, shared_data: Path) -> None:
    data = str(shared_data / "servicetags" / nsg_cases.DATA_NAME)
    bad = tmp_path / "old.sh"
    bad.write_text("#!/bin/sh\necho hi\n")
    for previous, code, message in (
        (str(tmp_path / "missing.sh"), 2, "no such file"),
        (str(tmp_path), 2, "is a directory"),
        (str(bad), 1, "not an NSG rendering of egress"),
    ):
        result = CliRunner().invoke(
            app,
            ["render", "--format", "azcli", "--region", "uksouth", "--data", data, "--previous", previous],
        )
        assert result.exit_code == code, result.output
        assert result.stderr.startswith("Error: ") and message in result.stderr
        assert result.stderr.count("\n") == 1 and result.stdout == ""


def test_regenerate_line_names_the_previous_file(tmp_path: Path, shared_data: Path) -> None:
    data = str(shared_data / "servicetags" / nsg_cases.DATA_NAME)
    base = ["render", "--option", "ip-ranges", "--region", "uksouth", "--data", data]
    first = CliRunner().invoke(app, [*base, "--format", "terraform"])
    assert first.exit_code == 0, first.output
    previous = tmp_path / "week1.tf"
    previous.write_text(first.stdout)
    second = CliRunner().invoke(app, [*base, "--format", "azcli", "--previous", str(previous)])
    assert second.exit_code == 0, second.output
    regenerate = next(line for line in second.stdout.splitlines() if line.startswith("# Regenerate: "))
    assert f"--previous {previous}" in regenerate
    # Same week, so every rule survives and keeps its number, whatever format the earlier rendering was in.
    assert read_rendering(second.stdout, where="x").rules == read_rendering(first.stdout, where="y").rules
