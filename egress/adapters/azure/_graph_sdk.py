"""The retry policy for Resource Graph. Imports azure-core: load only to talk to Azure.

Graph throttles per user and says when its window refills in `x-ms-user-quota-resets-after` (hh:mm:ss); a 429
without Retry-After waits that long (capped like every wait) instead of the exponential backoff. azure-core
retries a POST only on 500/503/504 or a Retry-After; Graph queries and ARM's list actions (admin rules) are
POSTs that read, so every retryable status is retried for them.
"""

from __future__ import annotations

from typing import Any

from egress.adapters.azure._sdk import EgressRetryPolicy
from egress.adapters.azure.resource_graph import quota_resets_after

RETRYABLE_STATUS = frozenset({408, 429, 500, 502, 503, 504})


class GraphRetryPolicy(EgressRetryPolicy):
    def is_retry(self, settings: dict[str, Any], response: Any) -> bool:
        if settings["total"] > 0 and response.http_response.status_code in RETRYABLE_STATUS:
            return True
        return super().is_retry(settings, response)

    def get_retry_after(self, response: Any) -> float | None:
        delay = super().get_retry_after(response)
        http = getattr(response, "http_response", None)
        if delay is None and http is not None and http.status_code == 429:
            delay = quota_resets_after(http.headers.get("x-ms-user-quota-resets-after"))
        return delay
