from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from egress.adapters.azure import NsgClient, resolve_endpoint
from tests.adapters.azure.nsgdata import REF, rule
from tests.armdouble import ArmDouble


@pytest.fixture
def seeded(arm_double: ArmDouble) -> ArmDouble:
    """The double holding REF with one foreign rule (as an organisation policy would have put there)."""
    arm_double.seed_nsg(
        REF.resource_id,
        {
            "location": "westeurope",
            "properties": {"securityRules": [rule("NRMS-Rule-101", 101, access="Deny")]},
        },
    )
    return arm_double


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def make_client(
    seeded: ArmDouble, fake_credential: Any, sleeps: list[float]
) -> Iterator[Callable[..., NsgClient]]:
    """Build NsgClients on the double: no real waits (they are recorded in `sleeps`), TLS trusting its CA."""
    made: list[NsgClient] = []

    def make(credential: Any = None, **kwargs: Any) -> NsgClient:
        options: dict[str, Any] = {"polling_interval": 0, "sleep": sleeps.append, "ca_bundle": seeded.ca_path}
        options.update(kwargs)
        client = NsgClient(
            REF, resolve_endpoint("public", seeded.base_url), credential or fake_credential, **options
        )
        made.append(client)
        return client

    yield make
    for client in made:
        client.close()


@pytest.fixture
def client(make_client: Callable[..., NsgClient]) -> NsgClient:
    return make_client()
