"""Per-subscription throttling: one gate per (ARM endpoint, subscription), shared by every target's requests.

ARM limits requests per subscription (and region) with token buckets — reads 250 refilled at 25/s, writes and
deletes 200 refilled at 10/s — and says how many are left in `x-ms-ratelimit-remaining-subscription-reads`
/ `-writes` / `-deletes`; past the limit it answers 429 with `Retry-After`. So a 429 on one NSG means every
request to that subscription should wait, not just the retried one, and nothing else should: the gate holds
one subscription's requests until its `Retry-After` has passed, and when the remaining count runs low it
spaces that subscription's requests at the refill rate instead of spending the bucket and drawing 429s.

No SDK import: the pipeline policy in _sdk.py calls `before()` and `after()` around each attempt.
"""

from __future__ import annotations

import email.utils
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

MAX_HOLD = 120.0  # seconds; the longest Retry-After honoured (as _sdk.MAX_DELAY)
DEFAULT_RETRY_AFTER = 1.0  # seconds held after a 429 that names no Retry-After
# ARM's bucket refill rates per subscription and region (requests per second) and the remaining count under
# which egress starts spacing requests at that rate (two seconds of refill: enough headroom for the requests
# other threads already have in flight).
REFILL_PER_SECOND = {"reads": 25.0, "writes": 10.0, "deletes": 10.0}
LOW_WATER = {"reads": 50, "writes": 20, "deletes": 20}
_HEADER = "x-ms-ratelimit-remaining-subscription-"


def bucket_of(method: str) -> str:
    method = method.upper()
    if method in ("GET", "HEAD"):
        return "reads"
    return "deletes" if method == "DELETE" else "writes"


def retry_after_seconds(headers: Mapping[str, str]) -> float | None:
    """`Retry-After` (or `retry-after-ms` / `x-ms-retry-after-ms`) in seconds, or None when absent or unreadable."""
    lowered = {k.lower(): v for k, v in headers.items()}
    for name in ("retry-after-ms", "x-ms-retry-after-ms"):
        if name in lowered:
            try:
                return max(0.0, float(lowered[name]) / 1000)
            except ValueError:
                pass
    value = lowered.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


@dataclass
class GateStats:
    throttled: int = 0  # 429 answers seen on this subscription
    held: float = 0.0  # seconds requests waited at the gate (all threads together)
    paced: int = 0  # requests spaced because the remaining count was low


class ThrottleGate:
    """The throttling state of one subscription on one ARM endpoint. Thread-safe."""

    def __init__(
        self,
        name: str,
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.name = name
        self.stats = GateStats()
        self._sleep = sleep
        self._clock = clock
        self._lock = threading.Lock()
        self._resume_at = 0.0
        self._low: dict[str, bool] = dict.fromkeys(REFILL_PER_SECOND, False)
        self._next_at: dict[str, float] = dict.fromkeys(REFILL_PER_SECOND, 0.0)

    def hold(self, seconds: float) -> float:
        """Hold this subscription's requests for `seconds` from now (a 429's Retry-After); the new release time."""
        seconds = min(max(0.0, seconds), MAX_HOLD)
        with self._lock:
            self.stats.throttled += 1
            self._resume_at = max(self._resume_at, self._clock() + seconds)
            return self._resume_at

    def before(self, method: str) -> float:
        """Wait until this subscription may send a `method` request; return the seconds waited.

        The request that drew the 429 has already slept its Retry-After in the retry policy (through the same
        clock), so it finds the hold over and does not wait twice.
        """
        bucket = bucket_of(method)
        with self._lock:
            now = self._clock()
            start = max(now, self._resume_at)
            if self._low[bucket]:
                start = max(start, self._next_at[bucket])
                self._next_at[bucket] = start + 1.0 / REFILL_PER_SECOND[bucket]
                self.stats.paced += 1
            delay = start - now
            if delay > 0:
                self.stats.held += delay
        if delay > 0:
            self._sleep(delay)
            return delay
        return 0.0

    def after(self, method: str, status: int, headers: Mapping[str, str]) -> None:
        """Learn from an answer: the remaining count of its bucket (every answer carries it)."""
        lowered = {k.lower(): v for k, v in headers.items()}
        bucket = bucket_of(method)
        raw = lowered.get(_HEADER + bucket)
        if raw is None:
            return
        try:
            remaining = int(raw)
        except ValueError:
            return
        with self._lock:
            self._low[bucket] = remaining <= LOW_WATER[bucket]
