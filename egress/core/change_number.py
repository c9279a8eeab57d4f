"""Is a file's changeNumber believable? "Never move backwards" trusts it, so an absurd one must not pass.

Microsoft's changeNumber grows by about one a week (Public: 310 in June 2024, 343 in January 2025). A file whose
number is far beyond what its own date allows, or far ahead of the data it follows, would freeze every target on
it forever (nothing later would ever be newer): such a file is an anomaly to refuse, not a week to apply.
"""

from __future__ import annotations

from datetime import date

# Before the weekly file existed (~2018): a ceiling that no genuine file comes near.
CHANGE_NUMBER_EPOCH = date(2015, 1, 1)
MAX_CHANGES_PER_WEEK = 4  # Microsoft's pace is ~1; 4 leaves room for busy weeks and other clouds
CHANGE_NUMBER_SLACK = 20  # steps allowed on top, between two files of close dates


def _day(text: str | None) -> date | None:
    try:
        return date.fromisoformat(text) if text else None
    except ValueError:
        return None


def ceiling(on: date) -> int:
    """The largest changeNumber a file of date `on` can plausibly carry."""
    weeks = max(0, (on - CHANGE_NUMBER_EPOCH).days) // 7 + 1
    return weeks * MAX_CHANGES_PER_WEEK


def anomaly(
    number: int | None,
    file_date: str | None,
    today: date,
    *,
    previous: int | None = None,
    previous_date: str | None = None,
) -> str | None:
    """Why `number` is not believable (one clause), or None. Without a file date, today stands in for it."""
    if number is None:
        return None
    on = _day(file_date) or today
    top = ceiling(on)
    if number > top:
        return (
            f"changeNumber {number} is implausible for data of {on.isoformat()} (Microsoft's grows by about one "
            f"a week: at most {top} by then)"
        )
    before = _day(previous_date)
    if previous is not None and before is not None and number > previous:
        weeks = max(1, (on - before).days // 7 + 1)
        allowed = previous + weeks * MAX_CHANGES_PER_WEEK + CHANGE_NUMBER_SLACK
        if number > allowed:
            return (
                f"changeNumber {number} is far ahead of the previous data's {previous} ({before.isoformat()}): "
                f"at most {allowed} is plausible by {on.isoformat()}"
            )
    return None
