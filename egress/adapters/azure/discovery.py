"""Find a `discover` entry's NSGs, with their rules, in one paged Resource Graph query (see egress.core.discovery).

The query goes through the Resource Graph adapter (resource_graph.GraphClient: azure-mgmt-resourcegraph, 1,000
rows a page with `$skipToken`) signed in with the run's shared credential, so discovery adds no sign-in.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from egress.core.discovery import Discover, discovery_query

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

    client = GraphClient(endpoint, session.credential(endpoint), sleep=session.sleep)
    try:
        rows = client.query(discovery_query(discover), discover.subscriptions)
        return Discovery([dict(r) for r in rows], sum(client.requests.values()))
    finally:
        client.close()
