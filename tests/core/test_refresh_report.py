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


def test_text_names_each_note_once_however_many_targets_share_it() -> None:
    """A fleet's shared notes are one line each (naming three targets and counting the rest); JSON keeps every
    target's own notes."""
    graph = "up to date in Resource Graph's copy: not read (pass --no-graph to read it)"
    fresh = "no earlier data recorded for this target: the shrink guard starts with the next run"
    targets = [
        TargetReport(
            name=f"nsg-{i}", target="x", result=UNCHANGED, notes=(graph,) + ((fresh,) if i < 5 else ())
        )
        for i in range(8)
    ] + [TargetReport(name="odd", target="y", result=ERROR, notes=("only mine", "only mine"))]
    rep = replace(report(), targets=tuple(targets))
    notes = [line for line in rep.to_text().splitlines() if line.startswith("note:")]
    assert notes == [
        f"note: 8 targets (nsg-0, nsg-1, nsg-2 and 5 more): {graph}",
        f"note: 5 targets (nsg-0, nsg-1, nsg-2 and 2 more): {fresh}",
        "note: odd: only mine",
    ]
    two = replace(report(), targets=tuple(targets[:2]))
    lines = [line for line in two.to_text().splitlines() if line.startswith("note:")]
    assert lines == [f"note: nsg-0, nsg-1: {graph}", f"note: nsg-0, nsg-1: {fresh}"]
    many = replace(report(), targets=tuple(targets[:6]))
    assert f"note: all 6 targets: {graph}" in many.to_text()
    assert [t["notes"] for t in rep.to_json()["targets"]][:1] == [[graph, fresh]]


def test_markdown_of_a_large_fleet_names_its_unchanged_targets_in_one_list() -> None:
    """A PR comment or CI job summary has a size cap (GitHub: 64 KB, 1 MB): past MARKDOWN_FULL_TARGETS, unchanged
    targets are one list of names; every other target keeps its row and section."""
    from egress.core.refresh_report import MARKDOWN_FULL_TARGETS

    n = 1000
    targets = tuple(
        TargetReport(
            name=f"fleet/nsg-{i:04d}",
            target="x",
            result=APPLIED if i == 7 else UNCHANGED,
            notes=("up to date in Resource Graph's copy: not read (pass --no-graph to read it)",),
        )
        for i in range(n)
    )
    text = replace(report(), targets=targets).to_markdown()
    assert len(text) < 64_000
    assert "999 more targets unchanged" in text and "fleet/nsg-0500" in text and "fleet/nsg-0501" not in text
    assert "and 499 more (all in `-o json`)" in text
    assert "### 🔄 fleet/nsg-0007: applied" in text
    assert "### ✅" not in text  # no section per unchanged target
    small = replace(report(), targets=targets[:MARKDOWN_FULL_TARGETS]).to_markdown()
    assert small.count("### ✅") == MARKDOWN_FULL_TARGETS - 1 and "more targets unchanged" not in small
