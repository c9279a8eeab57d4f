"""scripts/bench runs end to end on small input (timings are printed, never asserted)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from tests.conftest import SHARED_DATA

ROOT = Path(__file__).resolve().parents[2]
BENCH = ROOT / "scripts" / "bench"


def run_bench(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(BENCH), *args], capture_output=True, text=True, timeout=300, check=False
    )


def test_bench_quick_prints_one_table_of_every_section() -> None:
    proc = run_bench("--quick", "--data", str(SHARED_DATA / "servicetags"))
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    header = next(line for line in lines if line.startswith("section "))
    assert header.split() == ["section", "name", "egress", "baseline", "ratio", "target", "met?"]
    body = lines[lines.index(header) + 2 :]
    by_section: dict[str, list[str]] = {}
    for line in body:
        if not line.strip():
            break
        by_section.setdefault(line.split()[0], []).append(line)
    assert list(by_section) == ["aggregation", "process", "requests", "memory", "churn", "fleet", "path"]
    assert any(" 100 VMs x 3 destinations " in line for line in by_section["path"])
    assert any(" aggregate (" in line for line in by_section["aggregation"])
    assert any(" budget AzureCloud v4" in line for line in by_section["aggregation"])
    assert any(" egress plan " in line for line in by_section["process"])
    assert any(" egress --help " in line for line in by_section["process"])
    assert any(" MB " in line for line in by_section["memory"])
    # Route-table churn over a real week pair: the kept cover never changes more than a cover from scratch.
    churn = [line for line in by_section["churn"] if "deletes+creates" in line]
    assert churn and all(line.endswith("yes") for line in churn), "\n".join(churn)
    # Request counts are exact checks (not timings), judged even in --quick: no-op = 1 GET, change = 1 GET + 1 PUT.
    requests = by_section["requests"]
    assert len(requests) == 6
    assert all(line.endswith("yes") for line in requests), "\n".join(requests)
    assert sum(" no-op " in line and " 1 GET " in line for line in requests) == 2
    # Fleets: one sign-in per run; a change costs 1 GET + 1 PUT (+ LRO) per NSG; a no-op only the Graph query.
    fleet = by_section["fleet"]
    checked = [line for line in fleet if "token calls" in line or ": requests" in line]
    assert len(checked) == 8 and all(line.endswith("yes") for line in checked), "\n".join(fleet)
    # The command as a weekly job runs it, in its own process: still one sign-in and one Graph request.
    commands = [line for line in fleet if re.split(r"\s{2,}", line)[1].endswith("`egress refresh --apply`")]
    assert len(commands) == 2 and all(line.endswith("yes") for line in commands), "\n".join(fleet)
    assert all("1 graph, 1 token call(s)" in line for line in commands), "\n".join(commands)
    assert any(" no-op `egress refresh --apply` wall time, 30 vs 10 NSGs " in line for line in fleet)
    assert any(" no-op run_refresh time per extra NSG " in line for line in fleet)


def test_bench_finds_the_repository_data_without_data_flag() -> None:
    """Without --data it reads the repository's own xz test data (decompressed into its scratch folder)."""
    proc = run_bench("--quick", "--section", "aggregation")
    assert proc.returncode == 0, proc.stderr
    data_line = next(line for line in proc.stdout.splitlines() if line.startswith("data: "))
    assert data_line.split()[1].endswith("/ServiceTags_Public_20250127.json")
    assert "egress-bench-" in data_line  # the scratch folder, not a file outside the repository


def test_bench_explains_missing_data(tmp_path: Path) -> None:
    proc = run_bench("--quick", "--data", str(tmp_path))
    assert proc.returncode != 0
    assert "no ServiceTags_Public_*.json found" in proc.stderr
    assert "Traceback" not in proc.stderr
