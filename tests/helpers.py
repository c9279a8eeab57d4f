from __future__ import annotations

import os
from pathlib import Path


def assert_golden(path: Path, text: str) -> None:
    if os.environ.get("EGRESS_UPDATE_GOLDEN") == "1" or not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    expected = path.read_text(encoding="utf-8")
    actual = path.with_name(path.name + ".actual")
    if text != expected:
        actual.write_text(text, encoding="utf-8")
        raise AssertionError(f"{path} differs; see {actual} (EGRESS_UPDATE_GOLDEN=1 to accept)")
    actual.unlink(missing_ok=True)
