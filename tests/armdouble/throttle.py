"""ARM's request throttling for the double: token buckets per subscription, as ARM keeps them per region.

ARM counts reads (GET, HEAD), writes (PUT, PATCH, POST) and deletes per subscription in token buckets (today:
250 reads refilled at 25/s, 200 writes and 200 deletes refilled at 10/s), sends what is left in
`x-ms-ratelimit-remaining-subscription-reads` / `-writes` / `-deletes` on every answer, and answers 429
`TooManyRequests` with `Retry-After` (whole seconds until a token is back) when a bucket is empty. Tests give
small buckets to provoke that; `clock` is replaceable for deterministic refills.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

HEADER = "x-ms-ratelimit-remaining-subscription-"


def bucket_of(method: str) -> str:
    method = method.upper()
    if method in ("GET", "HEAD"):
        return "reads"
    return "deletes" if method == "DELETE" else "writes"


@dataclass
class RateLimits:
    """Bucket sizes and refill rates (tokens per second) per kind; ARM's defaults unless given."""

    reads: tuple[int, float] = (250, 25.0)
    writes: tuple[int, float] = (200, 10.0)
    deletes: tuple[int, float] = (200, 10.0)
    clock: Callable[[], float] = time.monotonic
    throttled: int = 0  # 429s answered
    _levels: dict[tuple[str, str], tuple[float, float]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def take(self, subscription: str, method: str) -> tuple[int, float | None]:
        """Spend one token for a request: (tokens left, None), or (0, seconds to wait) when the bucket is empty."""
        kind = bucket_of(method)
        size, rate = getattr(self, kind)
        key = (subscription.lower(), kind)
        with self._lock:
            now = self.clock()
            level, then = self._levels.get(key, (float(size), now))
            level = min(float(size), level + (now - then) * rate)
            if level < 1:
                self._levels[key] = (level, now)
                self.throttled += 1
                return 0, (1 - level) / rate
            level -= 1
            self._levels[key] = (level, now)
            return int(level), None

    @staticmethod
    def headers(method: str, remaining: int) -> dict[str, str]:
        return {HEADER + bucket_of(method): str(remaining)}

    @staticmethod
    def retry_after(seconds: float) -> str:
        return str(max(1, math.ceil(seconds)))
