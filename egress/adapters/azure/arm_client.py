"""ArmResourceClient: read and write one Microsoft.Network resource (and list service tags) through the real
azure-mgmt-network client. Each place's client (NsgClient, RouteTableClient, RuleCollectionGroupClient) names its
resource's two SDK operations; what follows is said of the NSG, and holds for each.

The SDK is imported when the first request is made, never at import time.

Shapes. `get()` and `put()` return the NSG exactly as Azure sent it (a plain dict in ARM's camelCase JSON:
`name`, `id`, `etag`, `type`, `location`, `properties` with `securityRules` = `[{"name", "id", "etag", "type",
"properties": {...}}]`, `defaultSecurityRules`, `provisioningState`, ...). `put()` accepts such a dict back
(modified): the SDK's model serialiser drops the read-only parts (etags, provisioningState,
defaultSecurityRules, resourceGuid, the rules' `type`) and keeps everything else, unknown properties included.
Azure then replaces the NSG's whole rule list with the one sent: rules left out are deleted.

Concurrency. `put(body, etag)` sends `If-Match: <etag>`; if the NSG changed since it was read Azure answers
412 and `PreconditionFailedError` (a ConflictError) is raised with nothing written: read again, re-plan,
retry. A PUT whose answer was lost (connection dropped after Azure applied it) is retried by the SDK with the
same etag and so also ends in PreconditionFailedError; re-reading then shows the change already made.

Retries. One loop, the SDK's RetryPolicy (see _sdk.py), runs per HTTP request, LRO polls included: 408, 429,
500, 502, 503, 504, 409 AnotherOperationInProgress, any error answer carrying Retry-After, and dropped or
refused connections are retried up to `max_attempts` attempts in all, waiting Retry-After or else 0, 1.6, 3.2,
... s. All waits, retry and LRO polling alike, go through `sleep`.

Sharing. Given an `AzureSession`, the client uses the session's SDK client for its subscription, its one sign-in
and connection pool and its subscription's throttle gate (see session.py): a fleet run makes one session and
one NsgClient per NSG. Without one, the client makes a private session from `credential`.

Request accounting. `.requests` counts HTTP attempts by method (retries and polls included), `.polls` the
operation-status GETs among them, `.retries` the retried attempts. Without faults:
- `get()`: 1 GET.
- `put()`: 1 PUT; then the SDK polls the Azure-AsyncOperation URL at once and again after each wait until the
  operation ends (k + 1 polls when Azure answers InProgress k times); then 1 GET of the NSG for its final
  state. So 1 PUT + (k + 2) GETs, k + 1 of them polls; k = 1 against the test double's default.
- `list_service_tags()`: 1 GET per page of the answer.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from egress.adapters.azure.errors import AzureApiError, PreconditionFailedError
from egress.adapters.azure.service_tags import service_tags_to_weekly
from egress.adapters.azure.session import AzureSession, RequestStats
from egress.adapters.azure.target import Endpoint, NsgRef
from egress.adapters.azure.timeouts import ArmTimeouts
from egress.errors import EgressError, FetchError, TargetError

if TYPE_CHECKING:
    from azure.core.credentials import TokenCredential

DEFAULT_POLLING_INTERVAL = 30.0  # the SDK's default wait between polls when Azure sends no Retry-After
_MAX_PAGES = 1000
_RETRYABLE_STATUS = frozenset({408, 429, 500, 502, 503, 504})


def _raw_json(pipeline_response: Any, deserialized: Any, headers: Any) -> Any:
    # `cls` hook of the SDK operations: keep Azure's JSON as sent instead of the model.
    return pipeline_response.http_response.json()


class ArmResourceClient:
    """One resource, read and written through azure-mgmt-network's NetworkManagementClient (subclasses say
    which), and the Service Tag Discovery API."""

    def __init__(
        self,
        ref: NsgRef | None,
        endpoint: Endpoint,
        credential: TokenCredential | None = None,
        *,
        session: AzureSession | None = None,
        polling_interval: float | None = None,
        max_attempts: int = 5,
        sleep: Callable[[float], None] = time.sleep,
        ca_bundle: str | None = None,
        timeouts: ArmTimeouts | None = None,
    ) -> None:
        """`session`: share clients, tokens, connections and throttling with other clients (then
        `credential`, `max_attempts`, `sleep` and `ca_bundle` are the session's). Otherwise a private session
        from `credential`: `max_attempts` attempts per HTTP request, first one included; every wait goes
        through `sleep`; `ca_bundle` a PEM file of extra CAs to trust (else REQUESTS_CA_BUNDLE / the system
        store), TLS always verified. `polling_interval`: seconds between LRO polls when Azure sends no
        Retry-After (None: the SDK's 30 s). `timeouts`: connect / read timeouts and the run's deadline of a
        private session (default: EGRESS_ARM_TIMEOUT and EGRESS_ARM_DEADLINE).
        """
        if session is None:
            if credential is None:
                raise ValueError(f"{type(self).__name__} needs a credential or a session")
            session = AzureSession(
                credential=credential,
                sleep=sleep,
                max_attempts=max_attempts,
                ca_bundle=ca_bundle,
                timeouts=timeouts,
            )
            self._owns_session = True
        else:
            self._owns_session = False
        self.ref = ref
        self.endpoint = endpoint
        self.session = session
        self.max_attempts = session.max_attempts
        self.polling_interval = DEFAULT_POLLING_INTERVAL if polling_interval is None else polling_interval
        self.stats = RequestStats()

    @property
    def requests(self) -> Counter[str]:
        return self.stats.requests

    @property
    def polls(self) -> int:
        return self.stats.polls

    @property
    def retries(self) -> int:
        return self.stats.retries

    # -- public operations -----------------------------------------------------------------------------------

    def get(self, *, missing_ok: bool = False) -> tuple[dict[str, Any], str] | None:
        """The NSG as Azure sent it, and its etag (`missing_ok`: None when there is no such resource)."""
        from azure.core.exceptions import AzureError as SdkError
        from azure.core.exceptions import ResourceNotFoundError

        from egress.adapters.azure._sdk import counting

        client = self._client(self.ref.subscription)
        try:
            with counting(self.stats):
                doc = self._read(client)
        except ResourceNotFoundError as exc:
            if missing_ok:
                return None
            raise self._error(exc, "read") from None
        except SdkError as exc:
            raise self._error(exc, "read") from None
        etag = doc.get("etag") if isinstance(doc, dict) else None
        if not isinstance(etag, str) or not etag:
            raise AzureApiError(f"Azure returned {self.ref} without an etag; cannot update it safely.")
        return doc, etag

    def put(self, body: Mapping[str, Any], etag: str | None, *, create: bool = False) -> dict[str, Any]:
        """Replace the NSG with `body` if its etag is still `etag`; wait for Azure; return the new NSG.

        `create=True` (no etag) writes only if the resource does not exist yet (`If-None-Match: *`): someone
        creating it meanwhile gets the same PreconditionFailedError as a moved etag.
        """
        if not etag and not create:
            raise ValueError("put() needs the etag the NSG was read with")
        condition = {"If-None-Match": "*"} if create else {"If-Match": str(etag)}
        from azure.core.exceptions import AzureError as SdkError

        from egress.adapters.azure._sdk import EgressPolling, counting

        client = self._client(self.ref.subscription)
        polling = EgressPolling(
            self.polling_interval,
            sleep=self.session.sleep,
            timeouts=self.session.timeouts,
            path_format_arguments={"endpoint": self.endpoint.arm},
            **self._call(),  # the polls run in the SDK's own thread: they carry the accounting themselves
        )
        try:
            with counting(self.stats):
                poller = self._begin_write(client, body, headers=condition, polling=polling, cls=_raw_json)
        except SdkError as exc:
            raise self._error(exc, "update", etag=etag) from None
        try:
            return poller.result()
        except SdkError as exc:
            raise self._error(exc, "update", etag=etag, lro=True) from None

    # The resource's own SDK operations: each place's client names them.
    NOT_FOUND = "check the subscription, resource group and resource name"

    def _read(self, client: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} names no resource to read")

    def _begin_write(self, client: Any, body: Mapping[str, Any], **kwargs: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} names no resource to write")

    def list_service_tags(self, subscription: str, location: str) -> dict[str, Any]:
        """The Service Tag Discovery API's answer for `subscription`'s cloud, in the weekly file's shape.

        `location` only picks the API's regional front end; every region's tags come back.
        """
        from azure.core.exceptions import AzureError as SdkError
        from azure.core.rest import HttpRequest

        client = self._client(subscription)
        subject = f"service tags of subscription {subscription} (location {location})"
        arm = urlsplit(self.endpoint.arm)
        pages: list[dict[str, Any]] = []
        try:
            page = client.service_tags.list(location, cls=_raw_json, **self._call())
            while True:
                if not isinstance(page, dict):
                    raise FetchError(f"the Service Tag Discovery API returned no JSON object for {subject}.")
                pages.append(page)
                link = page.get("nextLink")
                if not link:
                    break
                parts = urlsplit(str(link))
                if parts.scheme != "https" or parts.netloc.lower() != arm.netloc.lower():
                    where = parts.netloc or str(link)
                    raise FetchError(
                        f"refusing to follow the service-tag nextLink to {where}: it is not {arm.netloc} "
                        "over https."
                    )
                if len(pages) >= _MAX_PAGES:
                    raise FetchError(f"the Service Tag Discovery API kept paging past {_MAX_PAGES} pages.")
                response = client._client.send_request(HttpRequest("GET", str(link)), **self._call())
                response.raise_for_status()
                page = response.json()
        except SdkError as exc:
            raise self._error(
                exc, "list", subject=subject, not_found="check the subscription and location"
            ) from None
        return service_tags_to_weekly(pages)

    def close(self) -> None:
        if self._owns_session:
            self.session.close()

    def __enter__(self) -> ArmResourceClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- plumbing --------------------------------------------------------------------------------------------

    def _client(self, subscription: str) -> Any:
        return self.session.network_client(self.endpoint, subscription)

    def _call(self) -> dict[str, Any]:
        # Per-call options: this client's request accounting (the SDK client is shared per subscription).
        from egress.adapters.azure._sdk import STATS_KEY

        return {STATS_KEY: self.stats}

    def _error(
        self,
        exc: Exception,
        action: str,
        *,
        etag: str | None = None,
        lro: bool = False,
        subject: str | None = None,
        not_found: str | None = None,
    ) -> EgressError:
        """Translate an azure-core exception into egress's error for `action` (read / update / list)."""
        from azure.core.exceptions import HttpResponseError

        from egress.adapters.azure._sdk import BUSY_CODES, one_line, read_error, sign_in_or_network_error

        what = subject or str(self.ref)
        if self.session.timeouts.remaining() <= 0:  # whatever failed last, the reason to stop is the deadline
            return self.session.timeouts.exceeded(f"to {action} {what}")
        response = getattr(exc, "response", None)
        if isinstance(exc, HttpResponseError) and response is not None and exc.status_code is not None:
            status = int(exc.status_code)
            code, message = read_error(response)
            code = code or getattr(getattr(exc, "error", None), "code", None)
            message = one_line(message or getattr(exc, "message", "") or exc)
            label = f"{status} {code}" if code else str(status)
            if lro and status < 400:
                return AzureApiError(
                    f"Azure failed to {action} {what}: {code or 'OperationFailed'}: {message} (the operation "
                    "ended Failed); read the NSG again before retrying.",
                    code=code,
                    status=status,
                )
            if status == 412:
                return PreconditionFailedError(
                    f"{what} changed since it was read (etag {etag} no longer matches); read it again and "
                    "re-plan.",
                    etag=etag,
                )
            if status == 401:
                return AzureApiError(
                    f"Azure rejected the credentials ({label}): {message}; sign in again (`az login`) or "
                    "choose another --auth method.",
                    code=code,
                    status=status,
                )
            if status == 403:
                return AzureApiError(
                    f"not allowed to {action} {what} ({label}): {message}; the signed-in identity needs the "
                    "Network Contributor role on the NSG or its resource group.",
                    code=code,
                    status=status,
                )
            if status == 404:
                return TargetError(f"{what} was not found ({label}): {not_found or self.NOT_FOUND}.")
            if status in _RETRYABLE_STATUS or code in BUSY_CODES:
                return AzureApiError(
                    f"Azure still refused to {action} {what} after {self.max_attempts} attempts ({label}): "
                    f"{message}; try again later.",
                    code=code,
                    status=status,
                )
            return AzureApiError(
                f"Azure refused to {action} {what} ({label}): {message}", code=code, status=status
            )
        failed = sign_in_or_network_error(exc, self.endpoint.arm, self.max_attempts)
        if failed is not None:
            return failed
        return AzureApiError(f"Azure request to {action} {what} failed: {one_line(exc)}")
