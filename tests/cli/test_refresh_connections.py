"""A fleet refresh opens one TLS connection to its ARM host: Resource Graph discovery, the NSG reads and writes
and their operation polls all go through the run's AzureSession pool (the double counts connections)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from egress.cli import app
from tests.armdouble import ArmDouble
from tests.armdouble.plugin import FakeAz

runner = CliRunner()
SUB = "0b1f6471-1bf0-4dda-aec3-cb9272f09590"
NSGS = [
    f"/subscriptions/{SUB}/resourceGroups/rg-{i}/providers/Microsoft.Network/networkSecurityGroups/nsg-{i}"
    for i in range(3)
]


@pytest.mark.parametrize("concurrency", ["1", "4"])
def test_a_discovered_fleet_refresh_uses_one_connection_per_concurrent_request(
    arm_env: ArmDouble, fake_az: FakeAz, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, shared_data: Path,
    concurrency: str,
) -> None:  # fmt: skip
    monkeypatch.setenv("EGRESS_POLL_INTERVAL", "0")
    monkeypatch.setenv("EGRESS_CACHE_DIR", str(tmp_path / "cache"))
    for rid in NSGS:
        arm_env.seed_nsg(rid, {"location": "eastus", "tags": {"egress": "managed"}})
    cfg = tmp_path / "fleet.toml"
    cfg.write_text(
        '[defaults]\noption = "service-tags"\nregion = "eastus"\n\n[[targets]]\nname = "all"\n'
        f'discover = {{ scope = ["azure:/subscriptions/{SUB}"], tag = "egress=managed" }}\n'
    )
    data = shared_data / "servicetags" / "ServiceTags_Public_20250127.json"
    args = ["refresh", "--config", str(cfg), "--data", str(data), "--auth", "cli", "-o", "json", "--apply"]
    result = runner.invoke(app, [*args, "--concurrency", concurrency])
    assert result.exit_code == 3, result.stderr
    assert {t["result"] for t in json.loads(result.stdout)["targets"]} == {"applied"}
    assert arm_env.count(kind="graph") == 1 and arm_env.count("PUT") == 3 and arm_env.count(kind="poll") >= 3
    # Graph's query and the first NSG reads may overlap at most `concurrency` requests at once.
    assert 1 <= arm_env.connections <= int(concurrency)
