"""Find a `discover` entry's NSGs, with their rules, in one paged Resource Graph query (see egress.core.discovery).

The query goes through the Resource Graph adapter (resource_graph.GraphClient: azure-mgmt-resourcegraph, 1,000
rows a page with `$skipToken`) signed in with the run's shared credential and sent through the run's connection
pool, so discovery adds no sign-in and no TLS connection.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from egress.core.discovery import NSG_TYPE, Discover, discovery_query, listed_queries

if TYPE_CHECKING:
    from egress.adapters.azure.session import AzureSession
    from egress.adapters.azure.target import Endpoint


@dataclass(frozen=True, slots=True)
class Discovery:
    rows: list[dict[str, Any]]
    requests: int  # Resource Graph requests (pages, retries included)


def discover_rows(session: AzureSession, endpoint: Endpoint, discover: Discover) -> Discovery:
    """Every resource `discover` selects, as Graph rows (id, name, resourceGroup, subscriptionId, properties...)."""
    from egress.adapters.azure.resource_graph import GraphClient

    client = GraphClient(endpoint, session.credential(endpoint), sleep=session.sleep, session=session)
    try:
        rows = client.query(discovery_query(discover), discover.subscriptions)
        return Discovery([dict(r) for r in rows], sum(client.requests.values()))
    finally:
        client.close()


def listed_rows(
    session: AzureSession, endpoint: Endpoint, ids: Sequence[str], resource_type: str = NSG_TYPE
) -> Discovery:
    """Graph's copy (rules or routes included) of the NSGs (or route tables) with these resource ids: one query
    per 1,000 ids. An id Graph does not show (too new, deleted, unreadable) has no row; its target is read with a
    GET."""
    from egress.adapters.azure.resource_graph import GraphClient

    client = GraphClient(endpoint, session.credential(endpoint), sleep=session.sleep, session=session)
    try:
        rows: list[dict[str, Any]] = []
        for query, subscriptions in listed_queries(ids, resource_type):
            rows += [dict(r) for r in client.query(query, subscriptions)]
        return Discovery(rows, sum(client.requests.values()))
    finally:
        client.close()
