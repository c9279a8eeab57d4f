"""Issue 15's guards in `egress refresh`: growing data, doubtful changeNumbers, rollbacks, leftovers of a kill."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from egress.adapters.refresh_state import state_path
from tests.cli.test_refresh import by_name, nsg_doc, refresh, report_of, week, write_config


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
