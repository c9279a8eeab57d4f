"""`egress refresh` of route table and firewall policy targets across Microsoft's real consecutive weeks: only
the routes and rules whose content changed are rewritten; the rest (and everything not egress's) stays."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from egress.adapters.datastore import load_file
from egress.core import prefixes
from tests.cli.test_refresh import by_name, refresh, report_of, week, write_config

# (old week, new week, the tag that changed between them)
WEEKS = [("20240610", "20240617", "AzureActiveDirectory"), ("20250120", "20250127", "Storage.WestUS2")]
TAGS = ["Storage.WestUS2", "AzureActiveDirectory"]
FOREIGN = {
    "name": "onprem",
    "properties": {"addressPrefix": "192.168.0.0/16", "nextHopType": "VirtualNetworkGateway"},
}


def _aggregated(path: str, tag: str) -> set[str]:
    items = [prefixes.parse_prefix(p) for p in load_file(path).get(tag).prefixes]
    return {prefixes.format_prefix(p) for p in prefixes.aggregate(items)}


def _routes(path: Path) -> dict[str, dict]:
    return {r["name"]: r["properties"] for r in json.loads(path.read_text())["properties"]["routes"]}


@pytest.mark.parametrize(("old", "new", "changed_tag"), WEEKS)
def test_route_table_walk_rewrites_only_changed_routes(
    tmp_path: Path, shared_data: Path, old: str, new: str, changed_tag: str
) -> None:
    table = tmp_path / "rt.json"
    table.write_text(json.dumps({"name": "rt", "location": "westus2", "properties": {"routes": [FOREIGN]}}))
    config = write_config(
        tmp_path / "egress.toml",
        [{"name": "rt", "target": str(table), "place": "route-table", "tags": TAGS}],
    )
    old_file, new_file = week(shared_data, old), week(shared_data, new)
    assert refresh(config, "--data", old_file, "--apply").exit_code == 3
    before = _routes(table)
    second = refresh(config, "--data", new_file, "--apply", "-o", "json")
    assert second.exit_code == 3, second.stderr
    target = by_name(report_of(second))["rt"]
    after = _routes(table)
    assert after["onprem"] == FOREIGN["properties"]
    differing = {n for n in before.keys() | after.keys() if before.get(n) != after.get(n)}
    assert differing == {c["name"] for c in target["changes"]} and differing
    # Independently of the planner: the prefixes that came and went are exactly the changed routes' prefixes.
    came = _aggregated(new_file, changed_tag) - _aggregated(old_file, changed_tag)
    went = _aggregated(old_file, changed_tag) - _aggregated(new_file, changed_tag)
    assert {after[n]["addressPrefix"] for n in differing if n in after} == came
    assert {before[n]["addressPrefix"] for n in differing if n in before} == went
    body = table.read_bytes()
    third = refresh(config, "--data", new_file, "--apply", "-o", "json")
    assert third.exit_code == 0 and by_name(report_of(third))["rt"]["requests"] == {"read": 1, "write": 0}
    assert table.read_bytes() == body


def test_service_tag_routes_do_not_move_with_the_change_number(tmp_path: Path, shared_data: Path) -> None:
    table = tmp_path / "rt.json"
    table.write_text(json.dumps({"name": "rt", "properties": {"routes": [FOREIGN]}}))
    config = write_config(
        tmp_path / "egress.toml", [{"name": "rt", "target": str(table), "place": "route-table"}],
        option="service-tags", region="eastus",
    )  # fmt: skip
    assert refresh(config, "--data", week(shared_data, "20240610"), "--apply").exit_code == 3
    body = table.read_bytes()
    result = refresh(config, "--data", week(shared_data, "20250127"), "--apply", "-o", "json")
    assert result.exit_code == 0 and by_name(report_of(result))["rt"]["result"] == "unchanged"
    assert table.read_bytes() == body


@pytest.mark.parametrize(("old", "new", "changed_tag"), WEEKS)
def test_firewall_walk_rewrites_only_the_changed_rule(
    tmp_path: Path, shared_data: Path, old: str, new: str, changed_tag: str
) -> None:
    group = tmp_path / "rcg.json"
    group.write_text(
        json.dumps({"name": "egress-backup", "properties": {"priority": 200, "ruleCollections": []}})
    )
    config = write_config(
        tmp_path / "egress.toml",
        [{"name": "fw", "target": str(group), "place": "firewall-policy", "tags": ["AzureBackup", *TAGS],
          "vnet": ["10.0.0.0/16"], "firewall_ip": "10.0.1.4"}],
    )  # fmt: skip

    def rules() -> dict[str, dict]:
        doc = json.loads(group.read_text())
        return {r["name"]: r for c in doc["properties"]["ruleCollections"] for r in c["rules"]}

    assert refresh(config, "--data", week(shared_data, old), "--apply").exit_code == 3
    before = rules()
    second = refresh(config, "--data", week(shared_data, new), "--apply", "-o", "json")
    assert second.exit_code == 3, second.stderr
    after = rules()
    differing = {n for n in before if before[n] != after[n]}
    assert differing == {f"egress-{changed_tag.lower().replace('.', '-')}"}
    assert [c["name"] for c in by_name(report_of(second))["fw"]["changes"]] == ["egress-backup-net"]


def test_markdown_report_lists_route_changes(tmp_path: Path, shared_data: Path) -> None:
    table = tmp_path / "rt.json"
    table.write_text(json.dumps({"name": "rt", "properties": {"routes": [FOREIGN]}}))
    config = write_config(
        tmp_path / "egress.toml", [{"name": "rt", "target": str(table), "place": "route-table"}],
        option="service-tags", region="eastus",
    )  # fmt: skip
    result = refresh(config, "--data", week(shared_data, "20250127"), "-o", "markdown")
    assert result.exit_code == 3, result.stderr
    assert "| create | `egress-storage-eastus` | - | - | Storage.EastUS |" in result.stdout
