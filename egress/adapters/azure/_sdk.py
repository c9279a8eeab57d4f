"""What NsgClient plugs into azure-mgmt-network's pipeline. Imports azure-core: load only to talk to Azure.

- `EgressRetryPolicy`: the SDK's own RetryPolicy (so there is exactly one retry loop per HTTP request, LRO
  polls included), bounded to `max_attempts` attempts, also retrying 409 AnotherOperationInProgress, and
  sleeping through egress's `sleep` seam: `Retry-After` is honoured (capped at MAX_DELAY), otherwise
  exponential backoff with an immediate first retry.
- `EgressPolling`: the SDK's ARMPolling with its waits going through the same seam.
Both stop at the run's deadline (timeouts.py): no retry, read or poll wait goes past it.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from typing import Any

from azure.core.pipeline.policies import RetryPolicy
from azure.mgmt.core.polling.arm_polling import ARMPolling

from egress.adapters.azure.timeouts import ArmTimeouts

# 409/429 codes that mean "another write to this NSG is running": worth waiting for.
BUSY_CODES = frozenset({"AnotherOperationInProgress", "RetryableErrorDueToAnotherOperation"})
MAX_DELAY = 120.0  # seconds; the longest single wait egress accepts from Retry-After or backoff
BACKOFF_FACTOR = 0.8  # the SDK's default: waits of 0, 1.6, 3.2, 6.4 ... seconds between attempts


def read_error(http_response: Any) -> tuple[str | None, str | None]:
    """Azure's `{"error": {"code", "message"}}` from a response (streamed or not), or (None, None)."""
    with contextlib.suppress(Exception):  # already consumed or closed: text() still has what was read
        http_response.read()
    try:
        data = json.loads(http_response.text() or "null")
    except Exception:
        return None, None
    error = data.get("error") if isinstance(data, dict) else None
    if not isinstance(error, dict):
        return None, None
    code, message = error.get("code"), error.get("message")
    return (str(code) if code else None), (str(message) if message else None)


class EgressRetryPolicy(RetryPolicy):
    def __init__(
        self,
        *,
        max_attempts: int,
        sleep: Callable[[float], None],
        on_retry: Callable[[], None],
        backoff_factor: float = BACKOFF_FACTOR,
        timeouts: ArmTimeouts | None = None,
    ) -> None:
        retries = max_attempts - 1
        super().__init__(
            retry_total=retries,
            retry_connect=retries,
            retry_read=retries,
            retry_status=retries,
            retry_backoff_factor=backoff_factor,
            retry_backoff_max=MAX_DELAY,
        )
        self._egress_sleep = sleep
        self._on_retry = on_retry
        self._timeouts = timeouts or ArmTimeouts()

    def configure_retries(self, options: dict[str, Any]) -> dict[str, Any]:
        settings = super().configure_retries(options)
        # azure-core bounds one request's attempts by `timeout`; the run's deadline bounds them all.
        settings["timeout"] = min(settings["timeout"], max(self._timeouts.remaining(), 0.0))
        return settings

    def _configure_timeout(self, request: Any, absolute_timeout: float, is_response_error: bool) -> None:
        super()._configure_timeout(request, absolute_timeout, is_response_error)  # raises when none is left
        options = request.context.options
        options["read_timeout"] = min(options.get("read_timeout") or self._timeouts.read, absolute_timeout)

    def is_retry(self, settings: dict[str, Any], response: Any) -> bool:
        if super().is_retry(settings, response):
            return True
        http = response.http_response
        if http.status_code != 409 or settings["total"] <= 0:
            return False
        return read_error(http)[0] in BUSY_CODES

    def sleep(self, settings: dict[str, Any], transport: Any, response: Any = None) -> None:
        self._on_retry()
        delay = self.get_retry_after(response) if response is not None else None
        if not delay:
            delay = self.get_backoff_time(settings)
        if delay > 0:
            self._egress_sleep(min(float(delay), MAX_DELAY, max(self._timeouts.remaining(), 0.0)))


class EgressPolling(ARMPolling):
    def __init__(
        self,
        timeout: float,
        *,
        sleep: Callable[[float], None],
        timeouts: ArmTimeouts | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(timeout, **kwargs)
        self._egress_sleep = sleep
        self._timeouts = timeouts or ArmTimeouts()

    def _sleep(self, delay: float) -> None:
        left = self._timeouts.check("waiting for the operation to finish")
        if delay > left:
            raise self._timeouts.exceeded("waiting for the operation to finish")
        if delay > 0:
            self._egress_sleep(min(float(delay), MAX_DELAY))
