"""ARM's subscription throttling, as the double reports (and, when asked, enforces) it.

Every answer to a request under `/subscriptions/{id}/` carries `x-ms-ratelimit-remaining-subscription-reads`
(GET, HEAD), `-writes` (PUT, PATCH, POST) or `-deletes` (DELETE): the tokens left in that subscription's bucket
after the request. The buckets follow ARM's current regional token buckets (reads 250, refilled 25 a second;
writes and deletes 200, refilled 10 a second) on `clock`. With `enforce` set, a request finding its bucket empty
gets 429 `SubscriptionRequestsThrottled` with `Retry-After` (whole seconds until a token is back); otherwise
the headers only count down (and stop at 0), so tests that do not ask for throttling never see it.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

BUCKETS: dict[str, tuple[int, float]] = {"reads": (250, 25.0), "writes": (200, 10.0), "deletes": (200, 10.0)}
_SUB = re.compile(r"^/subscriptions/([^/]+)/", re.IGNORECASE)


def _kind(method: str) -> str:
    if method in ("GET", "HEAD"):
        return "reads"
    return "deletes" if method == "DELETE" else "writes"


@dataclass
class _Bucket:
    capacity: int
    refill: float
    tokens: float
    stamp: float

    def top_up(self, now: float) -> None:
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.refill)
        self.stamp = now


class RateLimits:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.enforce = False
        self.buckets = dict(BUCKETS)  # kind -> (capacity, refill per second); change before the first request
        self._state: dict[tuple[str, str], _Bucket] = {}

    def take(self, method: str, path: str) -> tuple[dict[str, str], tuple[int, Any, dict[str, str]] | None]:
        """Spend a token for one request: (headers for the answer, a 429 answer if it is refused)."""
        m = _SUB.match(path)
        if not m:
            return {}, None
        kind = _kind(method.upper())
        now = self.clock()
        key = (m.group(1).lower(), kind)
        bucket = self._state.get(key)
        if bucket is None:
            capacity, refill = self.buckets[kind]
            bucket = self._state[key] = _Bucket(capacity, refill, float(capacity), now)
        bucket.top_up(now)
        header = f"x-ms-ratelimit-remaining-subscription-{kind}"
        if bucket.tokens < 1 and self.enforce:
            wait = math.ceil((1 - bucket.tokens) / bucket.refill)
            body = {
                "error": {
                    "code": "SubscriptionRequestsThrottled",
                    "message": f"Number of '{kind[:-1]}' requests for subscription '{key[0]}' actor "
                    f"'00000000-0000-0000-0000-000000000000' exceeded. Please try again after '{wait}' seconds "
                    "after additional tokens are available.",
                }
            }
            return {header: "0"}, (429, body, {header: "0", "Retry-After": str(wait)})
        bucket.tokens = max(0.0, bucket.tokens - 1)
        return {header: str(int(bucket.tokens))}, None
