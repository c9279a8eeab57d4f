"""Issue 15: over-approximation (`--max-prefixes`) states its cost per family and refuses to go too wide."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from egress.cli import app
from egress.cli.extra import parse_max_extra
from egress.errors import UsageError

runner = CliRunner()


@pytest.fixture(scope="module")
def data(shared_data: Path) -> str:
    return str(shared_data / "servicetags" / "ServiceTags_Public_20250127.json")


def plan(data: str, *args: str):
    return runner.invoke(app, ["plan", "--option", "ip-ranges", "--region", "eastus", "--data", data, *args])


def test_twenty_prefixes_no_longer_quietly_allow_all_of_ipv4(data: str) -> None:
    # Before: exit 0, a note, and a rule to 0.0.0.0/0.
    result = plan(data, "--max-prefixes", "20")
    assert result.exit_code == 4, result.stdout
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith(
        "Error: --max-prefixes 20: covering 816 prefixes with 20 would allow IPv4 4,294,864,272 addresses beyond "
        "the tags, IPv6 "
    )
    assert (
        "IPv6 1,912,569,825 /64s beyond the tags (IPv4 over 16,777,216 addresses, the --max-extra limit)"
        in (result.stderr)
    )
    assert "--allow-wide" in result.stderr


def test_allow_wide_accepts_it_and_the_cost_is_per_family(data: str) -> None:
    result = plan(data, "--max-prefixes", "20", "--allow-wide", "-o", "json")
    assert result.exit_code == 0, result.stderr
    summary = json.loads(result.stdout)["summary"]
    assert "extraAddresses" not in summary  # a v4+v6 sum means nothing
    assert summary["extraIPv4Addresses"] == 4_294_864_272
    assert any(
        n.startswith(
            "over-approximated 816 prefixes into 20: IPv4 4,294,864,272 addresses beyond the tags, IPv6 "
        )
        and n.endswith("/64s beyond the tags")
        for n in summary["notes"]
    )
    text = plan(data, "--max-prefixes", "20", "--allow-wide")
    assert "over-approximation admits IPv4 4,294,864,272 addresses beyond the tags, IPv6 " in text.stdout


def test_a_modest_over_approximation_passes_and_max_extra_tightens_it(data: str) -> None:
    ok = plan(data, "--max-prefixes", "200", "-o", "json")
    assert ok.exit_code == 0, ok.stderr
    extra_v4 = json.loads(ok.stdout)["summary"]["extraIPv4Addresses"]
    assert 0 < extra_v4 <= 1 << 24
    tight = plan(data, "--max-prefixes", "200", "--max-extra", f"{extra_v4 - 1}")
    assert tight.exit_code == 4 and "IPv4 over" in tight.stderr and "IPv6 over" not in tight.stderr
    assert plan(data, "--max-prefixes", "200", "--max-extra", f"{extra_v4},/40").exit_code == 0
    v6 = plan(data, "--max-prefixes", "200", "--max-extra", f"{extra_v4},/64")
    assert v6.exit_code == 4 and "IPv6 over 1 /64s" in v6.stderr and "IPv4 over" not in v6.stderr


def test_config_keys_and_render_header_carry_the_limits(data: str, tmp_path: Path) -> None:
    config = tmp_path / "e.toml"
    config.write_text(
        '[defaults]\noption = "ip-ranges"\nregion = "eastus"\nmax_prefixes = 20\nallow_wide = true\n'
    )
    assert runner.invoke(app, ["plan", "--config", str(config), "--data", data]).exit_code == 0
    rendered = runner.invoke(app, ["render", "--config", str(config), "--data", data, "--format", "azcli"])
    assert rendered.exit_code == 0, rendered.stderr
    assert "--allow-wide" in rendered.stdout.split("\n\n", 1)[0]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("16777216", (16777216, None)),
        ("/8,/32", (1 << 24, 1 << 32)),
        ("/32,/64", (1, 1)),
        (",/48", (None, 1 << 16)),
        ("1_000,0", (1000, 0)),
    ],
)
def test_max_extra_values(text: str, expected: tuple[int | None, int | None]) -> None:
    assert parse_max_extra(text) == expected


@pytest.mark.parametrize("text", ["", "x", "-1", "/33", "/8,/129", "1,2,3", "/8,abc"])
def test_bad_max_extra_values(text: str) -> None:
    with pytest.raises(UsageError, match="--max-extra"):
        parse_max_extra(text)
