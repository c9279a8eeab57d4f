from __future__ import annotations

import json
from dataclasses import replace
from datetime import date

import pytest

from egress.core.refresh_report import (
    APPLIED,
    ERROR,
    PENDING,
    REFUSED,
    UNCHANGED,
    DataInfo,
    RefreshReport,
    TagReport,
    TargetReport,
    age_in_days,
)
from egress.core.shrink import TagSize
from egress.errors import ExitCode

DATA = DataInfo(
    cloud="Public",
    source="https://example.invalid/ServiceTags_Public_20250127.json",
    kind="download",
    sha256="ab" * 32,
    change_number=343,
    file_date="2025-01-27",
    age_days=3,
    origin="fetched",
)


def report(*results: str, message: str = "") -> RefreshReport:
    targets = tuple(
        TargetReport(name=f"t{i}", target=f"t{i}.json", result=r, message=message)
        for i, r in enumerate(results)
    )
    return RefreshReport(
        config="c.toml",
        apply=True,
        started_at="2025-01-30T00:00:00Z",
        duration=1.0,
        data=(DATA,),
        targets=targets,
    )


@pytest.mark.parametrize(
    ("results", "code"),
    [
        ((), ExitCode.OK),
        ((UNCHANGED, UNCHANGED), ExitCode.OK),
        ((UNCHANGED, PENDING), ExitCode.CHANGES),
        ((APPLIED, UNCHANGED), ExitCode.CHANGES),
        ((APPLIED, REFUSED), ExitCode.REFUSED),
        ((REFUSED, ERROR, APPLIED), ExitCode.ERROR),
    ],
)
def test_exit_code_precedence(results: tuple[str, ...], code: ExitCode) -> None:
    assert report(*results).exit_code == code


def test_unknown_result_is_rejected() -> None:
    with pytest.raises(ValueError):
        TargetReport(name="x", target="x", result="done")


def test_age_and_the_one_week_rule() -> None:
    assert age_in_days("2025-01-27", date(2025, 1, 30)) == 3
    assert age_in_days(None, date(2025, 1, 30)) is None and age_in_days("junk", date(2025, 1, 30)) is None
    assert DATA.under_a_week_old is True and "under a week" in DATA.age_text()
    old = replace(DATA, age_days=7)
    assert old.under_a_week_old is False and old.to_json()["underAWeekOld"] is False
    assert replace(DATA, age_days=None).under_a_week_old is None


def test_json_is_complete_and_serialisable() -> None:
    tag = TagReport(
        "Storage.WestUS2", added=("20.153.47.0/24",), before=TagSize(11728, 0), after=TagSize(11984, 0)
    )
    target = TargetReport(
        name="west",
        target="azure:/subscriptions/x",
        result=APPLIED,
        tags=(tag,),
        changes=({"action": "update", "name": "egress-x", "direction": "Outbound", "priority": 201},),
        counts={"create": 0, "update": 1, "delete": 0},
        requests={"PUT": 1, "GET": 2},
        duration=0.5,
    )
    r = RefreshReport(
        config="c.toml", apply=True, started_at="t", duration=1.0, data=(DATA,), targets=(target,)
    )
    doc = json.loads(r.to_json_text())
    assert doc["exitCode"] == 3 and doc["results"]["applied"] == 1 and doc["mode"] == "apply"
    t = doc["targets"][0]
    assert t["tags"][0] == {
        "name": "Storage.WestUS2",
        "changed": True,
        "compared": True,
        "added": ["20.153.47.0/24"],
        "removed": [],
        "before": {"ipv4": 11728, "ipv6": 0},
        "after": {"ipv4": 11984, "ipv6": 0},
    }
    assert t["requests"] == {"GET": 2, "PUT": 1} and t["durationSeconds"] == 0.5
    assert doc["data"][0]["underAWeekOld"] is True


def test_markdown_escapes_table_breakers_and_lists_prefixes() -> None:
    tag = TagReport("Storage.WestUS2", added=("20.153.47.0/24",), before=TagSize(1, 0), after=TagSize(2, 0))
    bad = TargetReport(name="a|b", target="x", result=ERROR, message="broken | <script>\nsecond line")
    good = TargetReport(name="ok", target="y", result=APPLIED, tags=(tag,))
    r = RefreshReport(
        config="c.toml", apply=False, started_at="t", duration=0, data=(DATA,), targets=(bad, good)
    )
    md = r.to_markdown()
    assert "| a\\|b | ❌ error |" in md
    assert "broken \\| &lt;script&gt; second line" in md and "<script>" not in md
    assert "+ Storage.WestUS2 20.153.47.0/24" in md and "```diff" in md
    rows = [line for line in md.splitlines() if line.startswith("| a\\|b")]
    assert len(rows) == 1 and rows[0].count(" | ") == 7  # eight cells, the escaped pipe is not a column


def test_text_table_lists_every_target() -> None:
    text = report(UNCHANGED, ERROR, message="boom").to_text()
    assert "t0" in text and "t1" in text and "1 unchanged, 1 error (exit 1)" in text
