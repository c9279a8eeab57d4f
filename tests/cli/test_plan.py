from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from egress.cli import app

runner = CliRunner()


@pytest.fixture(scope="module")
def data(shared_data: Path) -> str:
    return str(shared_data / "servicetags" / "ServiceTags_Public_20250127.json")


def test_plan_table_on_bundled_data_says_so_on_stderr() -> None:
    result = runner.invoke(app, ["plan", "--region", "eastus"])
    assert result.exit_code == 0, result.stderr
    assert "egress-storage-eastus" in result.stdout and "Storage.EastUS" in result.stdout
    assert "bundled" in result.stderr and result.stderr.count("\n") == 1


def test_plan_json_shape(data: str) -> None:
    result = runner.invoke(
        app, ["plan", "--option", "ip-ranges", "--region", "eastus", "--data", data, "-o", "json"]
    )
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert set(doc) == {"rules", "summary", "provenance"}
    assert doc["summary"]["option"] == "ip-ranges" and doc["provenance"]["changeNumber"] == 343
    assert result.stderr == ""


def test_config_file_with_flag_override(tmp_path: Path, data: str) -> None:
    cfg = tmp_path / "egress.toml"
    cfg.write_text(
        f'[defaults]\noption = "service-tags"\nregion = "westeurope"\ndata = "{data}"\n'
        '[[targets]]\nname = "prod"\ntarget = "nsg.json"\nregion = "eastus"\npriority_start = 300\n'
    )
    result = runner.invoke(
        app, ["plan", "--config", str(cfg), "--target-name", "prod", "--priority-start", "310"]
    )
    assert result.exit_code == 0, result.stderr
    assert "egress-storage-eastus" in result.stdout and "310" in result.stdout


@pytest.mark.parametrize(
    ("args", "code", "needle"),
    [
        (["--region", "eastuss"], 1, "unknown region 'eastuss'; did you mean eastus"),
        (["--tag", "Storage.EastUZ"], 1, "did you mean Storage.EastUS"),
        (["--option", "proxy", "--proxy-ip", "10.0.0.999"], 2, "is not an IP address"),
        (["--option", "proxy", "--proxy-ip", "10.0.0.5", "--proxy-port", "0"], 2, "not a TCP port"),
        (["--option", "proxy", "--proxy-ip", "10.0.0.5", "--proxy-port", "70000"], 2, "not a TCP port"),
        (["--region", "eastus", "--priority-start", "50"], 2, "outside Azure's range"),
        (["--region", "eastus", "--priority-start", "4096"], 2, "below the deny"),
        (["--option", "ip-ranges", "--region", "eastus", "--max-prefixes", "0"], 2, "at least 1"),
        (["--option", "teleport"], 2, "unknown option 'teleport'"),
        (["--config", "/nonexistent.toml"], 2, "no such config file"),
    ],
)
def test_bad_input_is_one_line_error(data: str, args: list[str], code: int, needle: str) -> None:
    result = runner.invoke(app, ["plan", "--data", data, *args])
    assert result.exit_code == code, (result.stdout, result.stderr)
    assert result.stdout == ""
    assert result.stderr.startswith("Error: ") and result.stderr.count("\n") == 1
    assert needle in result.stderr
    assert "Traceback" not in result.stderr


def test_bad_toml_is_one_line_error(tmp_path: Path) -> None:
    cfg = tmp_path / "bad.toml"
    cfg.write_text("[defaults\noption=")
    result = runner.invoke(app, ["plan", "--config", str(cfg)])
    assert result.exit_code == 2
    assert result.stderr.startswith("Error: ") and "not valid TOML" in result.stderr
