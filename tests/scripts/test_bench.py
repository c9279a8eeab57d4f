"""scripts/bench runs end to end on small input (timings are printed, never asserted)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BENCH = ROOT / "scripts" / "bench"


def _data_dir() -> Path | None:
    for up in (ROOT.parent, ROOT.parent.parent):
        candidate = up / "shared" / "data" / "servicetags"
        if any(candidate.glob("ServiceTags_Public_*.json")):
            return candidate
    return None


def run_bench(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(BENCH), *args], capture_output=True, text=True, timeout=300, check=False
    )


def test_bench_quick_prints_the_aggregation_table() -> None:
    data = _data_dir()
    if data is None:
        pytest.skip("shared service-tag data not found next to the project")
    proc = run_bench("--quick", "--data", str(data))
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert "[aggregation]" in lines
    header = next(line for line in lines if line.startswith("name "))
    assert header.split() == ["name", "egress", "s", "baseline", "s", "ratio", "target", "met?"]
    body = lines[lines.index(header) + 2 :]
    assert any(line.startswith("aggregate (") for line in body)
    assert any(line.startswith("budget AzureCloud v4") for line in body)


def test_bench_explains_missing_data(tmp_path: Path) -> None:
    proc = run_bench("--quick", "--data", str(tmp_path))
    assert proc.returncode != 0
    assert "no ServiceTags_Public_*.json found" in proc.stderr
    assert "Traceback" not in proc.stderr
