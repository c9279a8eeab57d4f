"""Plausibility of a file's changeNumber (egress.core.change_number)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from egress.adapters.datastore import load_file
from egress.core.change_number import anomaly, ceiling

TODAY = date(2026, 12, 3)


def test_every_real_file_is_plausible(shared_data: Path) -> None:
    files = sorted((shared_data / "servicetags").glob("ServiceTags_*.json"))
    assert len(files) >= 6
    for path in files:
        p = load_file(path).provenance
        assert anomaly(p.change_number, p.file_date, TODAY) is None, path.name
    old = load_file(shared_data / "servicetags" / "ServiceTags_Public_20240610.json").provenance
    new = load_file(shared_data / "servicetags" / "ServiceTags_Public_20250127.json").provenance
    assert (
        anomaly(
            new.change_number, new.file_date, TODAY, previous=old.change_number, previous_date=old.file_date
        )
        is None
    )


def test_far_beyond_the_files_own_date() -> None:
    assert "changeNumber 1000000000000000000 is implausible for data of 2025-01-27" in str(
        anomaly(10**18, "2025-01-27", TODAY)
    )
    assert anomaly(ceiling(date(2025, 1, 27)), "2025-01-27", TODAY) is None
    assert anomaly(ceiling(date(2025, 1, 27)) + 1, "2025-01-27", TODAY) is not None
    # Without a date in the name, today stands in.
    assert anomaly(ceiling(TODAY), None, TODAY) is None and anomaly(10**6, None, TODAY) is not None


def test_far_ahead_of_the_history() -> None:
    assert anomaly(343, "2025-01-27", TODAY, previous=342, previous_date="2025-01-20") is None
    odd = anomaly(900, "2025-01-27", TODAY, previous=342, previous_date="2025-01-20")
    assert odd == (
        "changeNumber 900 is far ahead of the previous data's 342 (2025-01-20): at most 370 is plausible by "
        "2025-01-27"
    )
    # Older data is not an anomaly here (that is "never backwards"); a long gap allows more steps.
    assert anomaly(300, "2025-01-27", TODAY, previous=342, previous_date="2025-01-20") is None
    assert anomaly(500, "2026-01-26", TODAY, previous=342, previous_date="2025-01-20") is None
