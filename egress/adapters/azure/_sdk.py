"""What NsgClient plugs into azure-mgmt-network's pipeline. Imports azure-core: load only to talk to Azure.

- `EgressRetryPolicy`: the SDK's own RetryPolicy (so there is exactly one retry loop per HTTP request, LRO
  polls included), bounded to `max_attempts` attempts, also retrying 409 AnotherOperationInProgress, and
  sleeping through egress's `sleep` seam: `Retry-After` is honoured (capped at MAX_DELAY), otherwise
  exponential backoff with an immediate first retry.
- `EgressRequestPolicy`: runs around every attempt (the client's custom-hook slot, after retry and auth):
  counts it into the calling NsgClient's `RequestStats` and passes it through the subscription's
  `ThrottleGate`, which holds the whole subscription after a 429 and spaces requests when ARM's remaining
  count runs low.
- `EgressPolling`: the SDK's ARMPolling with its waits going through the same seam.
Both stop at the run's deadline (timeouts.py): no retry, read or poll wait goes past it.

Clients are shared per subscription by every target of a run, so per-target accounting travels with each call:
the operation is called with `egress_stats=<RequestStats>`, which the retry policy moves from the call's
options into the pipeline context (so it never reaches the transport) for the other policies to read.
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Callable, Iterator
from typing import Any

from azure.core.pipeline.policies import RetryPolicy, SansIOHTTPPolicy
from azure.mgmt.core.polling.arm_polling import ARMPolling

from egress.adapters.azure.errors import AzureApiError
from egress.adapters.azure.throttle import DEFAULT_RETRY_AFTER, ThrottleGate, retry_after_seconds
from egress.adapters.azure.timeouts import ArmTimeouts
from egress.core.urls import redact_url

# 409/429 codes that mean "another write to this NSG is running": worth waiting for.
BUSY_CODES = frozenset({"AnotherOperationInProgress", "RetryableErrorDueToAnotherOperation"})
MAX_DELAY = 120.0  # seconds; the longest single wait egress accepts from Retry-After or backoff
BACKOFF_FACTOR = 0.8  # the SDK's default: waits of 0, 1.6, 3.2, 6.4 ... seconds between attempts
STATS_KEY = "egress_stats"  # per-call keyword (then pipeline-context key) carrying the caller's RequestStats


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


_COUNTING = threading.local()


@contextlib.contextmanager
def counting(stats: Any) -> Iterator[None]:
    """Count the requests this thread sends meanwhile into `stats` (for calls that cannot take `egress_stats`)."""
    before = getattr(_COUNTING, "stats", None)
    _COUNTING.stats = stats
    try:
        yield
    finally:
        _COUNTING.stats = before


class EgressRetryPolicy(RetryPolicy):
    def __init__(
        self,
        *,
        max_attempts: int,
        sleep: Callable[[float], None],
        on_retry: Callable[[], None] | None = None,
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

    def send(self, request: Any) -> Any:
        stats = request.context.options.pop(STATS_KEY, None) or getattr(_COUNTING, "stats", None)
        if stats is not None:
            request.context[STATS_KEY] = stats
        return super().send(request)

    def is_retry(self, settings: dict[str, Any], response: Any) -> bool:
        if super().is_retry(settings, response):
            return True
        http = response.http_response
        if http.status_code != 409 or settings["total"] <= 0:
            return False
        return read_error(http)[0] in BUSY_CODES

    def increment(self, settings: dict[str, Any], response: Any = None, error: Any = None) -> bool:
        active = super().increment(settings, response=response, error=error)
        stats = response.context.get(STATS_KEY) if response is not None else None
        if active and stats is not None:
            stats.retries += 1
        return bool(active)

    def sleep(self, settings: dict[str, Any], transport: Any, response: Any = None) -> None:
        if self._on_retry is not None:
            self._on_retry()
        delay = self.get_retry_after(response) if response is not None else None
        if not delay:
            delay = self.get_backoff_time(settings)
        delay = min(float(delay), MAX_DELAY)
        if delay > 0:
            self._egress_sleep(min(delay, max(self._timeouts.remaining(), 0.0)))


class EgressRequestPolicy(SansIOHTTPPolicy):  # type: ignore[type-arg]
    """Every attempt (retries and polls included): wait at the subscription's gate, count, and learn from the
    answer's rate-limit headers."""

    def __init__(self, gate: ThrottleGate | None) -> None:
        self._gate = gate

    def on_request(self, request: Any) -> None:
        http = request.http_request
        if self._gate is not None:
            self._gate.before(http.method)
        stats = request.context.get(STATS_KEY)
        if stats is not None:
            stats.count(http.method, http.url)

    def on_response(self, request: Any, response: Any) -> None:
        if self._gate is None:
            return
        http = response.http_response
        if http.status_code == 429:
            seconds = retry_after_seconds(http.headers)
            self._gate.hold(DEFAULT_RETRY_AFTER if seconds is None else seconds)
        self._gate.after(request.http_request.method, http.status_code, http.headers)


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


def one_line(text: object, limit: int = 400) -> str:
    """Azure's messages may span lines and end in a full stop; egress's are one line with its own advice after."""
    line = " ".join(str(text).split()).rstrip(".")
    return line if len(line) <= limit else line[: limit - 3] + "..."


def sign_in_or_network_error(exc: Exception, arm: str, attempts: int) -> AzureApiError | None:
    """The one-line error for a failed sign-in or an unreachable ARM (its URL redacted), or None for any
    other azure-core exception: what every client of the adapter says alike."""
    from azure.core.exceptions import ClientAuthenticationError, ServiceRequestError, ServiceResponseError

    if isinstance(exc, ClientAuthenticationError):
        return AzureApiError(
            f"could not get an Azure access token: {one_line(exc.message or exc)}; sign in (`az login`) "
            "or choose another --auth method."
        )
    if isinstance(exc, (ServiceRequestError, ServiceResponseError)):
        return AzureApiError(
            f"could not reach Azure Resource Manager at {redact_url(arm)} after {attempts} "
            f"attempts ({one_line(exc.message or exc, 200)}); check the network or proxy and try again."
        )
    return None
