"""RuleCollectionGroupClient: one firewall policy rule collection group, read and written (one GET, one
If-Match PUT of the whole group) through azure-mgmt-network's `firewall_policy_rule_collection_groups`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from egress.adapters.azure.arm_client import ArmResourceClient, _raw_json


class RuleCollectionGroupClient(ArmResourceClient):
    NOT_FOUND = "check the subscription, resource group, firewall policy and rule collection group names"

    def _read(self, client: Any) -> Any:
        ref = self.ref
        return client.firewall_policy_rule_collection_groups.get(
            ref.resource_group, ref.policy, ref.name, cls=_raw_json
        )

    def _begin_write(self, client: Any, body: Mapping[str, Any], **kwargs: Any) -> Any:
        from azure.mgmt.network.models import FirewallPolicyRuleCollectionGroup

        ref = self.ref
        return client.firewall_policy_rule_collection_groups.begin_create_or_update(
            ref.resource_group, ref.policy, ref.name, FirewallPolicyRuleCollectionGroup(dict(body)), **kwargs
        )
