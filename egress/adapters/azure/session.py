"""AzureSession: what every Azure request of one run shares, so a fleet of N NSGs signs in once.

- one `SharedCredential` per (--auth, authority): a token is fetched once per scope and reused by every client;
- one HTTP connection pool (a requests.Session) for every client: TLS connections are reused across targets;
- one NetworkManagementClient per (ARM endpoint, subscription), reused by every NSG of that subscription;
- one `ThrottleGate` per (ARM endpoint, subscription): a 429 holds that subscription's requests only.

Clients are thread-safe (azure-core's guarantee); each NsgClient passes its own `RequestStats` with each call, so
request counts stay per target although clients are shared. Importing this module loads no SDK module.
"""

from __future__ import annotations

import contextlib
import re
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from egress.adapters.azure.credentials import SharedCredential, make_credential
from egress.adapters.azure.target import Endpoint
from egress.adapters.azure.throttle import ThrottleGate
from egress.adapters.azure.timeouts import ArmTimeouts

# Connections kept per host: enough for refresh's largest --concurrency plus the SDK's LRO polling threads.
POOL_SIZE = 128
_POLL_PATH = re.compile(r"/providers/microsoft\.network/locations/[^/]+/(operations|operationresults)/", re.I)


@dataclass
class RequestStats:
    """HTTP attempts made for one caller: by method (retries and polls included), polls, retried attempts."""

    requests: Counter[str] = field(default_factory=Counter)
    polls: int = 0
    retries: int = 0

    def count(self, method: str, url: str) -> None:
        self.requests[method.upper()] += 1
        if _POLL_PATH.search(urlsplit(url).path):
            self.polls += 1


class _SeamClock:
    """Time as a replaced `sleep` sees it: starts now, moves only by the waits sent through it."""

    def __init__(self, sleep: Callable[[float], None]) -> None:
        self._sleep = sleep
        self._now = time.monotonic()
        self._lock = threading.Lock()

    def now(self) -> float:
        with self._lock:
            return self._now

    def sleep(self, seconds: float) -> None:
        self._sleep(seconds)
        with self._lock:
            self._now += seconds


class AzureSession:
    """Shared credentials, connection pool, SDK clients and throttle gates for one run. Thread-safe."""

    def __init__(
        self,
        auth: str = "default",
        *,
        credential: Any = None,
        sleep: Callable[[float], None] = time.sleep,
        max_attempts: int = 5,
        ca_bundle: str | None = None,
        timeouts: ArmTimeouts | None = None,
    ) -> None:
        """`credential`: use this TokenCredential (wrapped to share its tokens) instead of making one for `auth`.
        `sleep`: every wait (retries, polls, throttling) goes through it. `ca_bundle`: extra CAs to trust."""
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        self.auth = auth
        self.max_attempts = max_attempts
        # connect / read timeouts and the run's deadline (EGRESS_ARM_TIMEOUT, EGRESS_ARM_DEADLINE)
        self.timeouts = timeouts if timeouts is not None else ArmTimeouts.from_env()
        if sleep is time.sleep:
            self.sleep, self.clock = time.sleep, time.monotonic
        else:  # a test's sleep: the throttle gates' clock advances by what was "slept", not by real time
            virtual = _SeamClock(sleep)
            self.sleep, self.clock = virtual.sleep, virtual.now
        self._given = SharedCredential(credential) if credential is not None else None
        self._ca_bundle = ca_bundle
        self._lock = threading.Lock()
        self._credentials: dict[str, SharedCredential] = {}
        self._clients: dict[tuple[str, str, str, str], Any] = {}
        self._gates: dict[tuple[str, str], ThrottleGate] = {}
        self._http: Any = None

    # -- what clients share ---------------------------------------------------------------------------------

    def credential(self, endpoint: Endpoint) -> SharedCredential:
        if self._given is not None:
            return self._given
        with self._lock:
            made = self._credentials.get(endpoint.authority)
            if made is None:
                made = SharedCredential(make_credential(self.auth, endpoint.authority))
                self._credentials[endpoint.authority] = made
            return made

    def gate(self, endpoint: Endpoint, subscription: str) -> ThrottleGate:
        key = (endpoint.arm.lower(), subscription.lower())
        with self._lock:
            gate = self._gates.get(key)
            if gate is None:
                gate = self._gates[key] = ThrottleGate(
                    f"subscription {subscription}", sleep=self.sleep, clock=self.clock
                )
            return gate

    @property
    def token_calls(self) -> int:
        """Token requests that reached the underlying credentials (sign-ins, for AzureCliCredential)."""
        creds = [self._given] if self._given is not None else list(self._credentials.values())
        return sum(c.calls for c in creds)

    def network_client(self, endpoint: Endpoint, subscription: str) -> Any:
        """The NetworkManagementClient for `subscription` on `endpoint` (made once, then shared)."""
        return self._client("network", endpoint, subscription, self._make_network)

    def _client(
        self, kind: str, endpoint: Endpoint, subscription: str, make: Callable[[Endpoint, str], Any]
    ) -> Any:
        key = (kind, endpoint.arm.lower(), endpoint.scope, subscription.lower())
        with self._lock:
            client = self._clients.get(key)
        if client is not None:
            return client
        made = make(endpoint, subscription)
        with self._lock:
            client = self._clients.setdefault(key, made)
        if client is not made:
            made.close()
        return client

    def client_options(self, endpoint: Endpoint, subscription: str) -> dict[str, Any]:
        """Keyword arguments for any azure-mgmt client: the shared transport, egress's retry and request
        policies with this subscription's gate."""
        from egress.adapters.azure._sdk import EgressRequestPolicy, EgressRetryPolicy

        return {
            "base_url": endpoint.arm,
            "credential_scopes": [endpoint.scope],
            "retry_policy": EgressRetryPolicy(
                max_attempts=self.max_attempts, sleep=self.sleep, timeouts=self.timeouts
            ),
            "custom_hook_policy": EgressRequestPolicy(self.gate(endpoint, subscription)),
            "transport": self.transport(),
        }

    def transport(self) -> Any:
        """An azure-core transport over the run's connection pool (closing it leaves the pool open), for any
        SDK client: every client of the run reuses the same TLS connections."""
        from azure.core.pipeline.transport import RequestsTransport

        options: dict[str, Any] = {
            "session": self._session(),
            "session_owner": False,
            "connection_timeout": self.timeouts.connect,
            "read_timeout": self.timeouts.read,
        }
        if self._ca_bundle:
            options["connection_verify"] = self._ca_bundle
        return RequestsTransport(**options)

    def _make_network(self, endpoint: Endpoint, subscription: str) -> Any:
        from azure.mgmt.network import NetworkManagementClient

        return NetworkManagementClient(
            self.credential(endpoint), subscription, **self.client_options(endpoint, subscription)
        )

    def _session(self) -> Any:
        with self._lock:
            if self._http is None:
                import requests
                from urllib3.util.retry import Retry

                session = requests.Session()
                # Retries are the SDK retry policy's job (one loop per request); the pool outlives every client.
                adapter = requests.adapters.HTTPAdapter(
                    pool_connections=4,
                    pool_maxsize=POOL_SIZE,
                    max_retries=Retry(total=False, redirect=False, raise_on_status=False),
                )
                session.mount("https://", adapter)
                session.mount("http://", adapter)
                self._http = session
            return self._http

    # -- lifecycle ------------------------------------------------------------------------------------------

    def close(self) -> None:
        with self._lock:
            clients, self._clients = list(self._clients.values()), {}
            creds = list(self._credentials.values())  # a credential given to the session stays its owner's
            self._credentials = {}
            http, self._http = self._http, None
        for client in clients:
            with contextlib.suppress(Exception):
                client.close()
        for cred in creds:
            with contextlib.suppress(Exception):  # best effort: the run's result is already known
                cred.close()
        if http is not None:
            http.close()

    def __enter__(self) -> AzureSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
