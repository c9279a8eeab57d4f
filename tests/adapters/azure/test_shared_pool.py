"""A fleet run's Resource Graph queries (discovery, listed targets) go through the run's AzureSession pool: the
double counts the connections clients open, and a run opens one to its ARM host."""

from __future__ import annotations

from typing import Any

from egress.adapters.azure import AzureSession, NsgClient, resolve_endpoint
from egress.adapters.azure.discovery import discover_rows, listed_rows
from egress.adapters.azure.resource_graph import GraphClient
from egress.core.discovery import Discover, parse_scope
from tests.adapters.azure.nsgdata import REF
from tests.armdouble import ArmDouble


def _seeded(double: ArmDouble) -> None:
    double.seed_nsg(REF.resource_id, {"location": "westeurope", "tags": {"egress": "managed"}})


def test_discovery_listing_and_nsg_calls_share_one_connection(
    arm_double: ArmDouble, fake_credential: Any
) -> None:
    _seeded(arm_double)
    endpoint = resolve_endpoint("public", arm_double.base_url)
    discover = Discover(
        (parse_scope(f"azure:/subscriptions/{REF.subscription}", "test"),), ("egress", "managed")
    )
    with AzureSession(credential=fake_credential, ca_bundle=arm_double.ca_path) as session:
        NsgClient(REF, endpoint, session=session).get()
        found = discover_rows(session, endpoint, discover)
        listed = listed_rows(session, endpoint, [REF.resource_id])
        NsgClient(REF, endpoint, session=session).get()
    assert (
        [r["id"].lower() for r in found.rows]
        == [REF.resource_id.lower()]
        == [r["id"].lower() for r in listed.rows]
    )
    assert arm_double.count("POST", "graph") == 2 and arm_double.count("GET", "nsg") == 2
    assert arm_double.connections == 1


def test_negative_control_a_graph_client_of_its_own_opens_its_own_connection(
    arm_double: ArmDouble, fake_credential: Any
) -> None:
    _seeded(arm_double)
    endpoint = resolve_endpoint("public", arm_double.base_url)
    with AzureSession(credential=fake_credential, ca_bundle=arm_double.ca_path) as session:
        NsgClient(REF, endpoint, session=session).get()
        with GraphClient(endpoint, session.credential(endpoint), ca_bundle=arm_double.ca_path) as own:
            own.query("resources | project id", [REF.subscription])
    assert arm_double.connections == 2
