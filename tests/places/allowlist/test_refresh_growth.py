"""Issue 15: the exports' growth guard, beside their shrink guard (a default route must never reach a firewall)."""

from __future__ import annotations

import json
from pathlib import Path

from tests.places.allowlist.conftest import week
from tests.places.allowlist.test_refresh import refresh, write_config


def test_growth_guard_refuses_a_default_route_and_leaves_the_files_byte_identical(tmp_path: Path) -> None:
    tags = ("AzureBackup", "Storage.WestUS2")
    config = write_config(tmp_path, "westus2", tags)
    assert refresh(config, week("20250127"), "--apply").exit_code == 3
    files = sorted((tmp_path / "out").iterdir())
    before = {p: p.read_bytes() for p in files}
    doc = json.loads(week("20250127").read_text())
    for value in doc["values"]:
        if value["name"] == "Storage.WestUS2":
            value["properties"]["addressPrefixes"].append("0.0.0.0/0")
    doc["changeNumber"] += 1
    crafted = tmp_path / "ServiceTags_Public_20250203.json"
    crafted.write_text(json.dumps(doc))
    result = refresh(config, crafted, "--apply")
    assert result.exit_code == 4, result.output
    report = json.loads(result.stdout)
    for entry in report["exports"]:
        assert entry["result"] == "refused"
        assert "growth guard: Storage.WestUS2 holds a default route 0.0.0.0/0" in entry["message"]
        assert "the file was left as it is" in entry["message"]
    assert {p: p.read_bytes() for p in files} == before
