"""`egress apply` takes one path for a listed target and for every NSG a `discover` entry finds: applied,
refused by --max-deletes, refused by the growth guard and an Azure error end alike (exit code, stdout, stderr),
and with `-o json` a refused plan is printed in both. On the ARM double with the real SDK clients."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from egress.cli import app
from tests.armdouble import ArmDouble
from tests.armdouble.plugin import FakeAz
from tests.cli.test_refresh_discover import MANAGED, POLICY, SUBS, config, rules
from tests.cli.test_refresh_guards import crafted

runner = CliRunner()
FOUND = [rid for rid in MANAGED if SUBS[0] in rid]  # what the entry discovers in the one scope it is given
FOUND_LABELS = sorted(f"azure:{rid}" for rid in FOUND)


@pytest.fixture
def estate(arm_env: ArmDouble, fake_az: FakeAz, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> ArmDouble:
    """The NSGs tagged egress=managed in two subscriptions, each holding an organisation's policy rule."""
    monkeypatch.setenv("EGRESS_POLL_INTERVAL", "0")
    monkeypatch.setenv("EGRESS_CACHE_DIR", str(tmp_path / "cache"))
    for rid in MANAGED:
        arm_env.seed_nsg(
            rid,
            {"location": "eastus", "tags": {"egress": "managed"}, "properties": {"securityRules": [POLICY]}},
        )
    return arm_env


@pytest.fixture
def data(shared_data: Path) -> str:
    return str(shared_data / "servicetags" / "ServiceTags_Public_20250127.json")


def apply(tmp_path: Path, how: str, data: str, *args: str):
    """`apply` on MANAGED[0] given with --target, or on FOUND through the config's discover entry."""
    cfg = config(tmp_path, scope=[SUBS[0]])
    where = ["--target", f"azure:{MANAGED[0]}"] if how == "listed" else ["--target-name", "all-backup"]
    argv = ["apply", "--config", str(cfg), *where, "--data", data, "--auth", "cli", *args]
    return runner.invoke(app, argv)


def labels(how: str) -> list[str]:
    return [f"azure:{MANAGED[0]}"] if how == "listed" else FOUND_LABELS


def errors(result, how: str) -> str:
    """stderr less the discover entry's one note (what Resource Graph found), which must be there for it."""
    lines = result.stderr.splitlines(keepends=True)
    if how == "discover":
        assert lines[0].startswith(
            "egress: all-backup: Resource Graph found 4 NSG(s) in azure:/subscriptions/"
        )
        lines = lines[1:]
    return "".join(lines)


def ours(double: ArmDouble, rid: str) -> list[str]:
    return sorted(n for n in rules(double, rid) if n.startswith("egress-"))


BOTH = pytest.mark.parametrize("how", ["listed", "discover"])


@BOTH
def test_applied(estate: ArmDouble, tmp_path: Path, data: str, how: str) -> None:
    result = apply(tmp_path, how, data, "--yes")
    assert result.exit_code == 3, result.stderr
    for label in labels(how):
        assert f"Applied to {label}.\n" in result.stdout
        assert f"{label}: 4 to create, 0 to update, 0 to delete" in result.stdout
    assert result.stdout.count("Applied to ") == len(labels(how))
    assert errors(result, how) == ""
    again = apply(tmp_path, how, data, "--yes")
    assert again.exit_code == 0, again.stderr
    assert [line for line in again.stdout.splitlines() if line.startswith("No changes")] == [
        f"No changes to {label}." for label in labels(how)
    ]


@BOTH
def test_refused_by_max_deletes(estate: ArmDouble, tmp_path: Path, data: str, how: str) -> None:
    assert apply(tmp_path, how, data, "--yes").exit_code == 3
    before = {rid: rules(estate, rid) for rid in FOUND}
    # Another region renames egress's storage rule: one delete, over --max-deletes 0.
    result = apply(tmp_path, how, data, "--yes", "--region", "westus", "--max-deletes", "0")
    assert result.exit_code == 4, result.stdout + result.stderr
    assert errors(result, how) == (
        "Error: the plan deletes 1 rules, more than --max-deletes 0, nothing was written; review the changes, "
        "then raise --max-deletes or pass --force.\n"
    )
    shown = [line.split() for line in result.stdout.splitlines() if line.startswith("delete ")]
    assert shown and all("egress-storage-eastus" in words for words in shown)  # the refused plan was shown
    assert "Applied to" not in result.stdout
    assert {rid: rules(estate, rid) for rid in FOUND} == before

    as_json = apply(tmp_path, how, data, "--yes", "--region", "westus", "--max-deletes", "0", "-o", "json")
    assert as_json.exit_code == 4 and errors(as_json, how) == errors(result, how)
    doc = json.loads(as_json.stdout)  # one document: the first target's refused plan
    assert doc["applied"] is False and doc["target"] == labels(how)[0]
    assert "more than --max-deletes 0" in doc["refused"]
    assert [(c["action"], c["name"]) for c in doc["changes"]] == [
        ("delete", "egress-storage-eastus"),
        ("create", "egress-storage-westus"),
    ]


@BOTH
def test_refused_by_the_growth_guard(estate: ArmDouble, tmp_path: Path, shared_data: Path, how: str) -> None:
    bad = crafted(shared_data, tmp_path, add={"Storage.EastUS": ["198.18.0.0/16"]})
    result = apply(tmp_path, how, bad, "--yes", "--min-prefix-v4", "24")
    assert result.exit_code == 4, result.stdout + result.stderr
    error = errors(result, how)
    assert error.startswith("Error: growth guard: Storage.EastUS") and error.count("\n") == 1
    assert "198.18.0.0/16" in error
    assert result.stdout == ""  # refused before any plan was made
    assert estate.count("PUT") == 0 and all(ours(estate, rid) == [] for rid in FOUND)


@BOTH
def test_an_azure_error_is_one_line_and_nothing_is_written(
    estate: ArmDouble, tmp_path: Path, data: str, how: str
) -> None:
    estate.inject("status", method="PUT", status=400, code="SecurityRuleConflict", message="Rules conflict.")
    result = apply(tmp_path, how, data, "--yes")
    assert result.exit_code == 1, result.stdout + result.stderr
    error = errors(result, how)
    assert error.startswith("Error: ") and "SecurityRuleConflict" in error and error.count("\n") == 1
    assert f"{labels(how)[0]}: 4 to create" in result.stdout and "Applied to" not in result.stdout
    assert all(ours(estate, rid) == [] for rid in FOUND)
