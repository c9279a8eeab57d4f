"""RouteTableClient: one route table, read and written (one GET, one If-Match PUT of the whole table) through
azure-mgmt-network's `route_tables` operations, with ArmResourceClient's retries, polling, accounting and errors."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from egress.adapters.azure.arm_client import ArmResourceClient, _raw_json


class RouteTableClient(ArmResourceClient):
    NOT_FOUND = "check the subscription, resource group and route table name"

    def _read(self, client: Any) -> Any:
        return client.route_tables.get(self.ref.resource_group, self.ref.name, cls=_raw_json)

    def _begin_write(self, client: Any, body: Mapping[str, Any], **kwargs: Any) -> Any:
        from azure.mgmt.network.models import RouteTable

        # A model, so the SDK drops read-only fields (etags, provisioningState, subnets) on the wire.
        return client.route_tables.begin_create_or_update(
            self.ref.resource_group, self.ref.name, RouteTable(dict(body)), **kwargs
        )
