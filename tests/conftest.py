from __future__ import annotations

import os
from pathlib import Path

import pytest

pytest_plugins = ["tests.armdouble.plugin"]

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def shared_data() -> Path:
    for candidate in (os.environ.get("EGRESS_SHARED_DIR"), ROOT.parent / "shared"):
        if candidate and (Path(candidate) / "data").is_dir():
            return Path(candidate) / "data"
    pytest.skip("../shared/data is not present (set EGRESS_SHARED_DIR)")


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EGRESS_CACHE_DIR", str(tmp_path / "cache"))
