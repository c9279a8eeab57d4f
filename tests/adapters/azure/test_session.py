"""SharedCredential (one token per scope for the whole run, thread-safe, renewed before expiry), AzureSession
(SDK clients shared per subscription, one connection pool) and the per-subscription throttle gate."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from azure.core.credentials import AccessToken
from azure.identity import AzureCliCredential

from egress.adapters.azure import AzureSession, NsgClient, SharedCredential, resolve_endpoint
from egress.adapters.azure.throttle import ThrottleGate, retry_after_seconds
from tests.adapters.azure.nsgdata import REF
from tests.armdouble import ArmDouble
from tests.armdouble.plugin import FakeAz

OTHER_SUB = "1c2e5f8a-0d4b-4e6f-9a7b-3c5d7e9f1a2b"


class SlowCredential:
    """Counts calls; each takes a while, so concurrent first requests overlap."""

    def __init__(self, lifetime: int = 3600) -> None:
        self.calls: list[tuple[tuple[str, ...], dict[str, Any]]] = []
        self.lifetime = lifetime
        self._lock = threading.Lock()

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        time.sleep(0.05)
        with self._lock:
            self.calls.append((scopes, kwargs))
            return AccessToken(f"token-{len(self.calls)}", int(time.time()) + self.lifetime)


def test_concurrent_requests_share_one_fetch_per_scope() -> None:
    inner = SlowCredential()
    shared = SharedCredential(inner)
    scope = "https://management.azure.com/.default"
    with ThreadPoolExecutor(16) as pool:
        tokens = list(pool.map(lambda _: shared.get_token(scope).token, range(64)))
    assert set(tokens) == {"token-1"} and shared.calls == 1 and len(inner.calls) == 1
    shared.get_token("https://graph.microsoft.com/.default")  # another scope: its own token
    shared.get_token(scope, claims='{"access_token":{}}')  # a claims challenge: never the cached token
    assert shared.calls == 3 and inner.calls[2][1] == {"claims": '{"access_token":{}}'}


def test_a_token_is_renewed_shortly_before_it_expires() -> None:
    now = [1_000_000.0]
    inner = SlowCredential()
    shared = SharedCredential(inner, margin=300, clock=lambda: now[0])
    first = shared.get_token("s")
    now[0] = first.expires_on - 301
    assert shared.get_token("s") is first
    now[0] = first.expires_on - 299
    assert shared.get_token("s") is not first and shared.calls == 2


def test_session_shares_one_client_per_subscription_and_one_sign_in(
    arm_double: ArmDouble, fake_az: FakeAz
) -> None:
    other = REF.resource_id.replace(REF.subscription, OTHER_SUB)
    for rid in (REF.resource_id, other):
        arm_double.seed_nsg(rid, {"location": "eastus"})
    endpoint = resolve_endpoint("public", arm_double.base_url)
    with AzureSession("cli", ca_bundle=arm_double.ca_path) as session:
        assert isinstance(session.credential(endpoint).inner, AzureCliCredential)
        clients = [NsgClient(REF, endpoint, session=session) for _ in range(5)]
        for c in clients:
            c.get()
            assert dict(c.requests) == {"GET": 1}  # counted per NsgClient although the SDK client is shared
        assert session.network_client(endpoint, REF.subscription) is session.network_client(
            endpoint, REF.subscription.upper()
        )
        assert session.network_client(endpoint, OTHER_SUB) is not session.network_client(
            endpoint, REF.subscription
        )
        NsgClient(type(REF)(OTHER_SUB, REF.resource_group, REF.name), endpoint, session=session).get()
        assert session.token_calls == 1 and len(fake_az.calls()) == 1
        pools = {id(session.network_client(endpoint, s)._client._pipeline._transport.session) for s in
                 (REF.subscription, OTHER_SUB)}  # fmt: skip
        assert len(pools) == 1  # one connection pool for every client


def test_a_429_holds_its_subscription_only(arm_double: ArmDouble) -> None:
    from tests.armdouble.plugin import FakeCredential

    other = type(REF)(OTHER_SUB, REF.resource_group, REF.name)
    for ref in (REF, other):
        arm_double.seed_nsg(ref.resource_id, {"location": "eastus"})
    sleeps: list[float] = []
    endpoint = resolve_endpoint("public", arm_double.base_url)
    with AzureSession(credential=FakeCredential(), sleep=sleeps.append, ca_bundle=arm_double.ca_path) as s:
        arm_double.inject("throttle", path=f"/subscriptions/{REF.subscription}/*", retry_after="30")
        NsgClient(REF, endpoint, session=s).get()
        assert sleeps == [30.0]  # the throttled request waited its Retry-After once
        gate = s.gate(endpoint, REF.subscription)
        assert gate.stats.throttled == 1
        NsgClient(other, endpoint, session=s).get()
        assert sleeps == [30.0]  # another subscription is not held
        arm_double.inject("throttle", path=f"/subscriptions/{REF.subscription}/*", retry_after="45")
        NsgClient(REF, endpoint, session=s).get()
        assert sleeps == [30.0, 45.0]


def test_gate_holds_other_threads_and_paces_when_the_bucket_runs_low() -> None:
    now = [0.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    gate = ThrottleGate("s", sleep=sleep, clock=lambda: now[0])
    gate.hold(5)
    assert gate.before("GET") == 5 and now[0] == 5
    assert gate.before("GET") == 0
    gate.after("GET", 200, {"x-ms-ratelimit-remaining-subscription-reads": "12"})
    waits = [gate.before("GET") for _ in range(3)]
    assert waits == pytest.approx([0, 0.04, 0.04])  # spaced at ARM's refill rate of 25 reads/s
    assert gate.before("PUT") == 0  # writes have their own bucket
    gate.after("GET", 200, {"x-ms-ratelimit-remaining-subscription-reads": "11999"})
    assert gate.before("GET") == 0


def test_retry_after_forms() -> None:
    assert retry_after_seconds({"Retry-After": "7"}) == 7
    assert retry_after_seconds({"retry-after-ms": "1500"}) == 1.5
    assert retry_after_seconds({"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}) == 0
    assert retry_after_seconds({}) is None and retry_after_seconds({"Retry-After": "soon"}) is None
