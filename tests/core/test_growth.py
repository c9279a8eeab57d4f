"""The growth guard (egress.core.growth), mirror of the shrink guard."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from egress.adapters.datastore import load_file
from egress.core.growth import (
    GROWTH_SLACK,
    GrowthLimits,
    allowed_size,
    check_growth,
    check_rule_growth,
    grew_too_much,
    refusal_message,
    wide_prefixes,
)
from egress.core.model import ServiceTag
from egress.core.shrink import TagSize, tag_size
from egress.errors import UsageError


def test_default_routes_and_prefixes_under_the_floor_are_found_per_family() -> None:
    tags = [
        ServiceTag("A", prefixes=("20.0.0.0/16", "0.0.0.0/0")),
        ServiceTag("B", prefixes=("4.0.0.0/7", "2603::/15", "2603::/16", "10.0.0.0/8")),
        ServiceTag("C", prefixes=("::/0",)),
    ]
    found = {(f.tag, f.prefix, f.floor) for f in wide_prefixes(tags, GrowthLimits())}
    assert found == {("A", "0.0.0.0/0", 8), ("B", "4.0.0.0/7", 8), ("B", "2602::/15", 16), ("C", "::/0", 16)}
    assert wide_prefixes(tags[1:2], GrowthLimits(min_prefix_v4=7, min_prefix_v6=15)) == ()
    (default,) = wide_prefixes(tags[:1], GrowthLimits(min_prefix_v4=1))  # a default route is never accepted
    assert default.describe() == "A holds a default route 0.0.0.0/0 (wider than /1)"


def test_growth_needs_both_the_percentage_and_more_than_the_slack() -> None:
    small = 109
    assert not grew_too_much(small, 301, 4, 100)  # a real week: 176% of a tiny tag
    big = 1 << 20
    assert not grew_too_much(big, 2 * big, 4, 100)  # exactly double: allowed
    assert grew_too_much(big, 2 * big + 1, 4, 100)
    assert not grew_too_much(0, 1 << 30, 4, 100)  # a family the tag did not have is not judged
    assert not grew_too_much(1, GROWTH_SLACK[4] + 1, 4, 100)  # +65,536: exactly the slack, allowed
    assert grew_too_much(1, GROWTH_SLACK[4] + 2, 4, 100)


@given(
    before=st.integers(min_value=1, max_value=1 << 40),
    gained=st.integers(min_value=0, max_value=1 << 40),
    percent=st.floats(min_value=0, max_value=10_000, allow_nan=False),
)
def test_growth_rule_property(before: int, gained: int, percent: float) -> None:
    verdict = grew_too_much(before, before + gained, 4, percent)
    assert verdict == (gained > GROWTH_SLACK[4] and gained * 100 > percent * before)
    assert not grew_too_much(before, before - min(gained, before), 4, percent)  # shrinking never trips it


def test_check_growth_on_real_consecutive_weeks_finds_nothing(shared_data: Path) -> None:
    folder = shared_data / "servicetags"
    for old, new in (("20240610", "20240617"), ("20250120", "20250127")):
        before_ds = load_file(folder / f"ServiceTags_Public_{old}.json")
        after_ds = load_file(folder / f"ServiceTags_Public_{new}.json")
        before = {t.name: tag_size(t) for t in before_ds}
        assert check_growth(before, list(after_ds), GrowthLimits()) == (), (old, new)


def test_check_growth_reports_grown_tags() -> None:
    tag = ServiceTag("Storage.EastUS", prefixes=("20.0.0.0/16", "52.0.0.0/10"))
    (finding,) = check_growth({"Storage.EastUS": TagSize(1 << 16, 0)}, [tag], GrowthLimits())
    assert finding.kind == "grew" and finding.family == 4
    assert finding.describe() == "Storage.EastUS grew 6400% in IPv4 addresses (65,536 -> 4,259,840)"
    message = refusal_message([finding], GrowthLimits(), outcome="nothing was written")
    assert message.startswith("growth guard: Storage.EastUS grew 6400%")
    assert "a higher --max-growth (now 100%)" in message and "--min-prefix" not in message


def test_rule_growth_counts_prefixes_not_names() -> None:
    before = allowed_size(["Storage.EastUS", "20.0.0.0/16", "20.0.0.0/17", "2603::/48"])
    assert before == TagSize(1 << 16, 1 << 80)
    after = allowed_size(["20.0.0.0/8"])
    (finding,) = check_rule_growth(before, after, GrowthLimits())
    assert (finding.tag, finding.family, finding.after) == ("egress's rules", 4, 1 << 24)
    assert check_rule_growth(TagSize(0, 0), after, GrowthLimits()) == ()  # nothing egress's before


@pytest.mark.parametrize(
    ("limits", "needle"),
    [
        (GrowthLimits(max_growth=-1), "--max-growth"),
        (GrowthLimits(max_growth=float("nan")), "--max-growth"),
        (GrowthLimits(min_prefix_v4=0), "--min-prefix-v4 0 must be 1-32"),
        (GrowthLimits(min_prefix_v6=129), "--min-prefix-v6 129 must be 1-128"),
    ],
)
def test_bad_limits_are_usage_errors(limits: GrowthLimits, needle: str) -> None:
    with pytest.raises(UsageError, match=needle):
        limits.validated()
