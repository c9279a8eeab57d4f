"""Issue 15 §5: a refresh report never prints `None`, and a rule that grows from one prefix to two lists only
the prefix it gained (Azure keeps one prefix in the singular field, several in the plural)."""

from __future__ import annotations

import ipaddress
import json
from pathlib import Path

from typer.testing import CliRunner

from egress.cli import app

runner = CliRunner()
TAG = "Storage.EastUS"


def _lone_prefix_block(values: list[dict]) -> tuple[dict, str, str]:
    """The tag's entry, a prefix alone in its /8, and a new prefix in that /8 that the tag does not cover."""
    entry = next(v for v in values if v["name"] == TAG)
    v4 = [ipaddress.ip_network(p) for p in entry["properties"]["addressPrefixes"] if ":" not in p]
    by_block: dict[int, list[ipaddress.IPv4Network]] = {}
    for net in v4:
        by_block.setdefault(int(net.network_address) >> 24, []).append(net)
    block, (lone,) = next((b, nets) for b, nets in sorted(by_block.items()) if len(nets) == 1)
    for candidate in ipaddress.ip_network(f"{block}.0.0.0/8").subnets(new_prefix=24):
        if not candidate.overlaps(lone):
            return entry, str(lone), str(candidate)
    raise AssertionError("no free /24")


def test_markdown_lists_only_the_gained_prefix(shared_data: Path, tmp_path: Path) -> None:
    old = shared_data / "servicetags" / "ServiceTags_Public_20250127.json"
    doc = json.loads(old.read_bytes())
    entry, lone, gained = _lone_prefix_block(doc["values"])
    entry["properties"]["addressPrefixes"].append(gained)
    entry["properties"]["changeNumber"] += 1
    doc["changeNumber"] += 1
    new = tmp_path / "ServiceTags_Public_20250203.json"
    new.write_text(json.dumps(doc))
    nsg = tmp_path / "nsg.json"
    nsg.write_text(json.dumps({"name": "nsg", "properties": {"securityRules": []}}))
    first = runner.invoke(
        app,
        ["apply", "--target", str(nsg), "--option", "ip-ranges", "--tag", TAG, "--data", str(old), "--yes"],
    )
    assert first.exit_code == 3, first.stderr  # applied
    config = tmp_path / "egress.toml"
    config.write_text(
        f'[defaults]\noption = "ip-ranges"\ntags = ["{TAG}"]\n[[targets]]\nname = "a"\ntarget = "{nsg}"\n'
    )
    result = runner.invoke(app, ["refresh", "--config", str(config), "--data", str(new), "-o", "markdown"])
    assert result.exit_code == 3, result.stderr
    assert "None" not in result.stdout
    row = next(line for line in result.stdout.splitlines() if line.startswith("| update |"))
    assert f"destinationAddressPrefixes: +{gained} |" in row
    assert lone not in row  # already allowed: not listed as added
    text = runner.invoke(
        app,
        [
            "apply",
            "--target",
            str(nsg),
            "--option",
            "ip-ranges",
            "--tag",
            TAG,
            "--data",
            str(new),
            "--dry-run",
        ],
    )
    assert text.exit_code == 0, text.stderr
    assert f"destinationAddressPrefixes: +{gained}" in text.stdout and "None" not in text.stdout
