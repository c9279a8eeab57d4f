from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from egress.core.priorities import allocate
from egress.errors import RuleError


def test_fresh_allocation_counts_up_from_start() -> None:
    assert allocate(3, start=200, stop=4096) == [200, 201, 202]


def test_allocation_skips_used_priorities() -> None:
    assert allocate(3, start=200, stop=4096, used={200, 202}) == [201, 203, 204]


def test_preferred_priority_kept_when_free() -> None:
    assert allocate(3, start=200, stop=4096, preferred=[None, 300, None]) == [200, 300, 201]


def test_preferred_priority_dropped_when_taken_or_outside() -> None:
    assert allocate(2, start=200, stop=4096, used={300}, preferred=[300, 5000]) == [200, 201]


def test_overflow_is_a_rule_error_naming_the_window() -> None:
    with pytest.raises(RuleError, match="do not fit between priorities 100 and 102"):
        allocate(4, start=100, stop=103)


@given(
    count=st.integers(0, 60),
    start=st.integers(100, 200),
    width=st.integers(0, 120),
    used=st.sets(st.integers(100, 400), max_size=60),
    preferred=st.lists(st.one_of(st.none(), st.integers(50, 450)), max_size=60),
)
def test_allocation_properties(count: int, start: int, width: int, used: set[int], preferred: list) -> None:
    stop = start + width
    free = len([p for p in range(start, stop) if p not in used])
    if count > free:
        with pytest.raises(RuleError):
            allocate(count, start=start, stop=stop, used=used, preferred=preferred)
        return
    got = allocate(count, start=start, stop=stop, used=used, preferred=preferred)
    assert len(got) == count
    assert len(set(got)) == count  # unique
    assert all(start <= p < stop for p in got)  # inside the window, so below the deny at `stop`
    assert not set(got) & used  # never on someone else's priority
    for want, p in zip(preferred, got, strict=False):
        if want is not None and start <= want < stop and want not in used and preferred.count(want) == 1:
            assert p == want  # sticky where possible
