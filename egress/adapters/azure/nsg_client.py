"""NsgClient: one NSG, read and written (one GET, one If-Match PUT of the whole NSG) through azure-mgmt-network's
`network_security_groups` operations, with ArmResourceClient's retries, polling, accounting and errors."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from egress.adapters.azure.arm_client import ArmResourceClient, _raw_json


class NsgClient(ArmResourceClient):
    NOT_FOUND = "check the subscription, resource group and NSG name"

    def _read(self, client: Any) -> Any:
        return client.network_security_groups.get(self.ref.resource_group, self.ref.name, cls=_raw_json)

    def _begin_write(self, client: Any, body: Mapping[str, Any], **kwargs: Any) -> Any:
        from azure.mgmt.network.models import NetworkSecurityGroup

        # A model, so the SDK drops read-only fields on the wire.
        return client.network_security_groups.begin_create_or_update(
            self.ref.resource_group, self.ref.name, NetworkSecurityGroup(dict(body)), **kwargs
        )
