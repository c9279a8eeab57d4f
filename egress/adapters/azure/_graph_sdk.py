"""The retry policy for Resource Graph. Imports azure-core: load only to talk to Azure.

Graph throttles per user and says when its window refills in `x-ms-user-quota-resets-after` (hh:mm:ss); a 429
without Retry-After waits that long (capped like every wait) instead of the exponential backoff.
"""

from __future__ import annotations

from typing import Any

from egress.adapters.azure._sdk import EgressRetryPolicy
from egress.adapters.azure.resource_graph import quota_resets_after


class GraphRetryPolicy(EgressRetryPolicy):
    def get_retry_after(self, response: Any) -> float | None:
        delay = super().get_retry_after(response)
        http = getattr(response, "http_response", None)
        if delay is None and http is not None and http.status_code == 429:
            delay = quota_resets_after(http.headers.get("x-ms-user-quota-resets-after"))
        return delay
