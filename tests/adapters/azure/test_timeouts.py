"""ARM requests time out (EGRESS_ARM_TIMEOUT) and one run's ARM work ends at a deadline (EGRESS_ARM_DEADLINE),
against the double holding requests unanswered (`stall`), as a hung front end does."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from egress.adapters.azure import NsgClient
from egress.adapters.azure.timeouts import ArmTimeouts, DeadlineExceeded
from egress.adapters.run_clock import start_run
from egress.errors import UsageError
from tests.adapters.azure.nsgdata import REF
from tests.armdouble import ArmDouble


def test_a_stalled_read_times_out_and_is_retried(
    make_client: Callable[..., NsgClient], seeded: ArmDouble
) -> None:
    start_run()
    client = make_client(timeouts=ArmTimeouts(connect=1, read=0.5, deadline=60))
    seeded.inject("stall", method="GET", seconds=30)
    doc, etag = client.get()
    assert doc["name"] == REF.name and etag
    assert client.requests["GET"] == 2 and client.retries == 1
    assert [r.fault for r in seeded.requests] == ["stall", None]


def test_the_run_deadline_stops_retries(make_client: Callable[..., NsgClient], seeded: ArmDouble) -> None:
    start_run()
    client = make_client(max_attempts=50, timeouts=ArmTimeouts(connect=1, read=0.4, deadline=1.5))
    seeded.inject("stall", method="GET", times=100, seconds=30)
    with pytest.raises(DeadlineExceeded) as caught:
        client.get()
    assert str(caught.value) == (
        f"gave up to read {REF}: this run's 1.5s for Azure Resource Manager are up (EGRESS_ARM_DEADLINE; each "
        "request may wait 1s to connect and 0.4s for an answer, EGRESS_ARM_TIMEOUT); check ARM's health and "
        "run again."
    )
    assert 3 <= client.requests["GET"] <= 5  # 0.4 s each within 1.5 s, never the 50 attempts allowed


def test_a_deadline_already_past_sends_nothing(
    make_client: Callable[..., NsgClient], seeded: ArmDouble
) -> None:
    start_run()
    client = make_client(timeouts=ArmTimeouts(connect=1, read=1, deadline=1e-9))
    with pytest.raises(DeadlineExceeded):
        client.get()
    assert client.requests["GET"] == 0 and seeded.requests == []


@pytest.mark.parametrize(
    ("timeout", "deadline", "expected"),
    [
        ("", "", ArmTimeouts(10, 60, 900)),
        ("30", "", ArmTimeouts(30, 30, 900)),
        ("5,20", "120", ArmTimeouts(5, 20, 120)),
    ],
)
def test_settings_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, timeout: str, deadline: str, expected: ArmTimeouts
) -> None:
    monkeypatch.setenv("EGRESS_ARM_TIMEOUT", timeout)
    monkeypatch.setenv("EGRESS_ARM_DEADLINE", deadline)
    assert ArmTimeouts.from_env() == expected


@pytest.mark.parametrize(
    ("timeout", "deadline"), [("abc", ""), ("1,2,3", ""), ("0", ""), ("", "inf"), ("", "-1")]
)
def test_bad_settings_are_usage_errors(monkeypatch: pytest.MonkeyPatch, timeout: str, deadline: str) -> None:
    monkeypatch.setenv("EGRESS_ARM_TIMEOUT", timeout)
    monkeypatch.setenv("EGRESS_ARM_DEADLINE", deadline)
    with pytest.raises(UsageError, match="EGRESS_ARM_TIMEOUT"):
        ArmTimeouts.from_env()
