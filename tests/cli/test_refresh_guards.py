"""Issue 15's guards in `egress refresh`: growing data, doubtful changeNumbers, rollbacks, leftovers of a kill."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from egress.adapters.refresh_state import state_path
from tests.armdouble import ArmDouble
from tests.cli.test_refresh import NSG_ID, by_name, live, nsg_doc, refresh, report_of, week, write_config

__all__ = ["live"]  # the ARM double fixture, shared with test_refresh


def test_refresh_removes_temp_files_a_killed_run_left(
    tmp_path: Path, shared_data: Path, egress_cache: Path
) -> None:
    # `kill -9` during a cache or state write leaves write_atomic's temp file behind; nothing ever removed them.
    nsg = tmp_path / "nsg.json"
    nsg.write_text(json.dumps(nsg_doc()))
    config = write_config(tmp_path / "egress.toml", [{"name": "east", "target": str(nsg)}], region="eastus")
    assert refresh(config, "--data", week(shared_data, "20250127"), "--apply").exit_code == 3
    state_dir = state_path(config).parent
    old = time.time() - 3 * 3600
    leftovers = [
        egress_cache / ".ServiceTags_Public_20250203.json.x1y2z3w4.tmp",
        egress_cache / ".ServiceTags_Public_20250203.meta.json.a1b2c3d4.tmp",
        state_dir / f".{state_path(config).name}.m9n8b7v6.tmp",
    ]
    kept = [
        egress_cache / ".ServiceTags_Public_20250210.json.fresh000.tmp",  # young: maybe a live writer's
        egress_cache / "mine.tmp",  # not egress's pattern
    ]
    for path in leftovers + kept:
        path.write_bytes(b'{"half": ')
    for path in leftovers + kept[1:]:
        os.utime(path, (old, old))
    result = refresh(config, "--data", week(shared_data, "20250127"), "--apply")
    assert result.exit_code == 0, result.stdout + result.stderr
    assert not any(p.exists() for p in leftovers)
    assert all(p.exists() for p in kept)
    assert by_name(report_of(refresh(config, "--data", week(shared_data, "20250127"), "-o", "json")))


def crafted(
    shared: Path,
    folder: Path,
    *,
    add: dict[str, list[str]] | None = None,
    change_number: int = 344,
    stamp: str = "20250203",
) -> str:
    """The real 2025-01-27 file, published as the next week, with prefixes added to some tags."""
    doc = json.loads(Path(week(shared, "20250127")).read_text(encoding="utf-8-sig"))
    for entry in doc["values"]:
        if entry["name"] in (add or {}):
            entry["properties"]["addressPrefixes"] += add[entry["name"]]  # type: ignore[index]
    doc["changeNumber"] = change_number
    path = folder / f"ServiceTags_Public_{stamp}.json"
    path.write_text(json.dumps(doc))
    return str(path)


def two_targets(tmp_path: Path) -> tuple[Path, Path, Path]:
    east, north = tmp_path / "east.json", tmp_path / "north.json"
    east.write_text(json.dumps(nsg_doc("nsg-east")))
    north.write_text(json.dumps(nsg_doc("nsg-north")))
    config = write_config(
        tmp_path / "egress.toml",
        [
            {"name": "east", "target": str(east)},
            {"name": "north", "target": str(north), "region": "northeurope"},
        ],
        region="eastus",
    )
    return config, east, north


def test_a_tag_gaining_a_default_route_is_refused_and_others_continue(
    tmp_path: Path, shared_data: Path
) -> None:
    # Issue 15: a served week where Storage.EastUS gained 0.0.0.0/0 was applied unattended (Allow tcp/443 to all).
    config, east, _north = two_targets(tmp_path)
    assert refresh(config, "--data", week(shared_data, "20250127"), "--apply").exit_code == 3
    body, state = east.read_bytes(), state_path(config).read_bytes()
    bad = crafted(shared_data, tmp_path, add={"Storage.EastUS": ["0.0.0.0/0"]})
    result = refresh(config, "--data", bad, "--apply", "-o", "json")
    assert result.exit_code == 4, result.stdout + result.stderr
    report = by_name(report_of(result))
    east_report = report["east"]
    assert east_report["result"] == "refused"
    assert (
        "growth guard: Storage.EastUS holds a default route 0.0.0.0/0 (wider than /8)"
        in east_report["message"]
    )
    assert "the target was left untouched" in east_report["message"]
    assert east_report["growth"][0] == {
        "tag": "Storage.EastUS",
        "family": "IPv4",
        "kind": "wide",
        "prefix": "0.0.0.0/0",
        "floor": 8,
    }
    assert report["north"]["result"] == "unchanged"  # the other target carries on
    assert east.read_bytes() == body
    assert (
        json.loads(state_path(config).read_bytes())["targets"]["east"] == json.loads(state)["targets"]["east"]
    )


def test_a_tag_that_grows_too_much_is_refused_unless_allowed(tmp_path: Path, shared_data: Path) -> None:
    config, east, _ = two_targets(tmp_path)
    assert refresh(config, "--data", week(shared_data, "20250127"), "--apply").exit_code == 3
    body = east.read_bytes()
    bad = crafted(shared_data, tmp_path, add={"Storage.EastUS": ["52.0.0.0/10"]})  # 4M addresses at once
    result = refresh(config, "--data", bad, "--apply")
    assert result.exit_code == 4, result.stdout
    assert "growth guard: Storage.EastUS grew" in result.stdout and "--max-growth (now 100%)" in result.stdout
    assert east.read_bytes() == body
    assert refresh(config, "--data", bad, "--apply", "--max-growth", "100000").exit_code == 3
    assert east.read_bytes() != body


def test_a_prefix_under_the_floor_is_refused_and_the_floor_is_configurable(
    tmp_path: Path, shared_data: Path
) -> None:
    config, _east, _ = two_targets(tmp_path)
    assert refresh(config, "--data", week(shared_data, "20250127"), "--apply").exit_code == 3
    bad = crafted(shared_data, tmp_path, add={"AzureActiveDirectory": ["2600::/14"]})
    result = refresh(config, "--data", bad, "--apply", "--max-growth", "1e30", "-o", "json")
    assert result.exit_code == 4
    assert (
        "AzureActiveDirectory holds a prefix 2600::/14 (wider than /16)"
        in by_name(report_of(result))["east"]["message"]
    )
    allowed = refresh(config, "--data", bad, "--apply", "--max-growth", "1e30", "--min-prefix-v6", "12")
    assert allowed.exit_code == 3, allowed.stdout


def test_an_absurd_change_number_is_refused_and_freezes_nothing(tmp_path: Path, shared_data: Path) -> None:
    # Issue 15: a file with changeNumber 10^18 was applied with exit 0, and every later week was "older".
    config, _east, _ = two_targets(tmp_path)
    assert refresh(config, "--data", week(shared_data, "20250120"), "--apply").exit_code == 3
    absurd = crafted(shared_data, tmp_path, change_number=10**18, stamp="20250127")
    result = refresh(config, "--data", absurd, "--apply", "-o", "json")
    assert result.exit_code == 4
    message = by_name(report_of(result))["east"]["message"]
    assert "changeNumber 1000000000000000000 is implausible for data of 2025-01-27" in message
    assert "refused as an anomaly" in message
    # Far ahead of the target's history, though plausible for its date: refused too.
    ahead = crafted(shared_data, tmp_path, change_number=900, stamp="20250127")
    message = by_name(report_of(refresh(config, "--data", ahead, "--apply", "-o", "json")))["east"]["message"]
    assert "changeNumber 900 is far ahead of the previous data's 342 (2025-01-20)" in message
    # Not frozen: the genuine next week still applies.
    assert refresh(config, "--data", week(shared_data, "20250127"), "--apply").exit_code in (0, 3)
    assert json.loads(state_path(config).read_bytes())["targets"]["east"]["data"]["changeNumber"] == 343


def test_a_state_frozen_by_an_absurd_change_number_thaws(tmp_path: Path, shared_data: Path) -> None:
    config, _east, _ = two_targets(tmp_path)
    assert refresh(config, "--data", week(shared_data, "20250120"), "--apply").exit_code == 3
    path = state_path(config)
    state = json.loads(path.read_bytes())
    state["targets"]["east"]["data"]["changeNumber"] = 10**18  # what an earlier egress recorded
    path.write_text(json.dumps(state))
    result = refresh(config, "--data", week(shared_data, "20250127"), "--apply", "-o", "json")
    assert result.exit_code in (0, 3), result.stdout
    east_report = by_name(report_of(result))["east"]
    assert east_report["result"] in ("applied", "unchanged")
    assert any("implausible; it is ignored" in n for n in east_report["notes"])


def test_an_explicit_older_file_needs_allow_older(tmp_path: Path, shared_data: Path) -> None:
    # Issue 15: `refresh --apply --data <older file>` rolled the target back without a word.
    config, east, _north = two_targets(tmp_path)
    assert refresh(config, "--data", week(shared_data, "20250127"), "--apply").exit_code == 3
    body = east.read_bytes()
    old = week(shared_data, "20240610")
    result = refresh(config, "--data", old, "--apply", "-o", "json")
    assert result.exit_code == 4
    east_report = by_name(report_of(result))["east"]
    assert (
        "(changeNumber 310) is older than the data this target was last brought to (changeNumber 343)"
        in (east_report["message"])
    )
    assert "--allow-older" in east_report["message"]
    assert east.read_bytes() == body
    rolled = refresh(config, "--data", old, "--apply", "--allow-older", "-o", "json")
    assert rolled.exit_code == 3, rolled.stdout
    east_report = by_name(report_of(rolled))["east"]
    assert east_report["result"] == "applied"
    assert any(n.startswith("rolling back: changeNumber 310") for n in east_report["notes"])


def test_refresh_repairs_an_nsg_left_failed(live: ArmDouble, tmp_path: Path, shared_data: Path) -> None:
    # Issue 15: after a failed write the NSG reads `Failed`; refresh said "up to date" forever.
    config = write_config(
        tmp_path / "e.toml", [{"name": "live", "target": f"azure:{NSG_ID}"}], region="eastus"
    )
    new = week(shared_data, "20250127")
    assert refresh(config, "--data", new, "--apply", "--auth", "cli").exit_code == 3
    live.inject("lro-failed", method="PUT", code="InternalServerError", message="Programming the NSG failed.")
    other = write_config(
        tmp_path / "o.toml",
        [{"name": "live", "target": f"azure:{NSG_ID}", "priority_start": 300}],
        region="eastus",
    )
    assert refresh(other, "--data", new, "--apply", "--auth", "cli").exit_code == 1  # its write fails
    assert live.nsg(NSG_ID)["properties"]["provisioningState"] == "Failed"
    dry = by_name(report_of(refresh(config, "--data", new, "--auth", "cli", "-o", "json")))["live"]
    assert dry["result"] == "pending"
    assert "needs a repair: the NSG's provisioningState is Failed" in dry["message"]
    result = refresh(config, "--data", new, "--apply", "--auth", "cli", "-o", "json")
    assert result.exit_code == 3, result.stdout
    applied = by_name(report_of(result))["live"]
    assert (
        applied["result"] == "applied"
        and "repaired: the NSG's provisioningState is Failed" in applied["message"]
    )
    assert live.nsg(NSG_ID)["properties"]["provisioningState"] == "Succeeded"
    assert refresh(config, "--data", new, "--apply", "--auth", "cli").exit_code == 0


def test_the_over_approximation_limits_leave_the_state_digest_alone() -> None:
    from egress.adapters.refresh_state import spec_digest
    from egress.core.spec import EgressSpec

    base = EgressSpec(option="ip-ranges", region="eastus")
    wide = EgressSpec(option="ip-ranges", region="eastus", allow_wide=True, max_extra_v4=1, max_extra_v6=2)
    assert spec_digest("t.json", base) == spec_digest("t.json", wide)
    assert spec_digest("t.json", base) != spec_digest(
        "t.json", EgressSpec(option="ip-ranges", region="westus")
    )
