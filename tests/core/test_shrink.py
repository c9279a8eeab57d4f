from __future__ import annotations

from pathlib import Path

import pytest

from egress.adapters.datastore import load_file
from egress.core.model import ServiceTag
from egress.core.shrink import TagSize, check_shrink, format_count, refusal_message, tag_size
from egress.errors import DataError, UsageError


def test_tag_size_counts_distinct_addresses_per_family() -> None:
    tag = ServiceTag("T", prefixes=("10.0.0.0/24", "10.0.0.128/25", "10.0.1.0/24", "2001:db8::/64"))
    assert tag_size(tag) == TagSize(512, 1 << 64)  # the /25 inside the first /24 counts once


def test_tag_size_of_a_damaged_prefix_is_a_data_error() -> None:
    with pytest.raises(DataError, match="damaged"):
        tag_size(ServiceTag("T", prefixes=("10.0.0.300/24",)))


def test_limit_is_exclusive_and_per_family() -> None:
    before = {"A": TagSize(1000, 1 << 64)}
    assert check_shrink(before, {"A": TagSize(800, 1 << 64)}, 20) == ()  # exactly 20% lost: allowed
    (finding,) = check_shrink(before, {"A": TagSize(799, 1 << 64)}, 20)
    assert (finding.family, finding.before, finding.after, finding.lost_percent) == (4, 1000, 799, 20.1)
    # All IPv4 gone while IPv6 holds: a combined count would hardly move, per family it is caught.
    (v4,) = check_shrink(before, {"A": TagSize(0, 1 << 64)}, 20)
    assert v4.family == 4 and v4.lost_percent == 100


def test_vanished_and_growth_and_new_families() -> None:
    before = {"Gone": TagSize(10, 0), "Grew": TagSize(10, 0), "NoV6Before": TagSize(10, 0)}
    after = {"Gone": None, "Grew": TagSize(50, 0), "NoV6Before": TagSize(10, 1 << 64)}
    (finding,) = check_shrink(before, after, 20)
    assert finding.vanished and finding.tag == "Gone" and "vanished" in finding.describe()
    assert check_shrink({"X": TagSize(10, 0)}, {}, 100)[0].vanished  # 100% still refuses a vanished tag
    assert check_shrink({"X": TagSize(10, 0)}, {"X": TagSize(0, 0)}, 100) == ()


def test_bad_limit_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="not a percentage"):
        check_shrink({}, {}, 101)


def test_message_is_one_line_and_says_what_to_do() -> None:
    findings = check_shrink({n: TagSize(100, 0) for n in "ABCDEF"}, {}, 20)
    text = refusal_message(findings, 20)
    assert "\n" not in text and "(and 2 more)" in text and "--max-shrink" in text and "untouched" in text
    assert format_count(3 << 64, 6) == "3 /64s" and format_count(1234, 4) == "1,234"


def test_real_consecutive_weeks_pass_the_default_guard(shared_data: Path) -> None:
    old = load_file(shared_data / "servicetags" / "ServiceTags_Public_20240610.json")
    new = load_file(shared_data / "servicetags" / "ServiceTags_Public_20240617.json")
    before = {t.name: tag_size(t) for t in old if t.name.startswith(("Storage.", "AzureActiveDirectory"))}
    after = {name: tag_size(t) if (t := new.find(name)) else None for name in before}
    assert check_shrink(before, after, 20) == ()
