"""The Resource Graph queries egress path sends (what they say; tests/armdouble runs them)."""

from __future__ import annotations

import pytest

from egress.core.graph_queries import (
    ADMIN_RULES_TYPE,
    NETWORK_TYPES,
    PATH_TOPOLOGY_QUERY,
    Scope,
    admin_rules_record,
    is_admin_rules_record,
    parse_scope,
    path_topology_query,
    subscriptions_of,
)
from egress.errors import UsageError

SUB = "00000000-0000-0000-0000-0000000000aa"
SUB2 = "00000000-0000-0000-0000-0000000000bb"


def test_parse_scope_subscription_and_group() -> None:
    assert parse_scope(f"azure:/subscriptions/{SUB.upper()}") == Scope(SUB)
    assert parse_scope(f"/subscriptions/{SUB}/resourceGroups/rg-App") == Scope(SUB, "rg-App")
    assert str(Scope(SUB, "rg")) == f"azure:/subscriptions/{SUB}/resourceGroups/rg"


@pytest.mark.parametrize(
    "text",
    [
        "azure:/subscriptions/not-a-guid",
        f"azure:/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm",
        f"azure:/subscriptions/{SUB}/resourceGroups/bad.",
        "",
    ],
)
def test_parse_scope_refuses_other_ids(text: str) -> None:
    with pytest.raises(UsageError, match="--scope"):
        parse_scope(text)


def test_default_query_names_every_type_and_orders_by_id() -> None:
    for t in (*NETWORK_TYPES, "microsoft.compute/virtualmachines"):
        assert f"'{t}'" in PATH_TOPOLOGY_QUERY
    assert PATH_TOPOLOGY_QUERY.splitlines()[-1] == "| order by id asc"
    # $skipToken paging is refused for queries that limit or take.
    assert " limit " not in PATH_TOPOLOGY_QUERY and " take " not in PATH_TOPOLOGY_QUERY
    assert "RecoveryServicesResources" not in PATH_TOPOLOGY_QUERY


def test_resource_group_scopes_narrow_vms_only() -> None:
    q = path_topology_query([Scope(SUB, "rg-b"), Scope(SUB, "RG-a"), Scope(SUB2)])
    assert (
        f"| where subscriptionId =~ '{SUB2}' or (subscriptionId =~ '{SUB}' and resourceGroup in~ "
        "('RG-a', 'rg-b'))" in q
    )
    # A whole subscription makes its resource groups redundant.
    assert path_topology_query([Scope(SUB, "rg"), Scope(SUB)]) == PATH_TOPOLOGY_QUERY
    assert subscriptions_of([Scope(SUB2), Scope(SUB, "x"), Scope(SUB)]) == [SUB, SUB2]


def test_protected_only_joins_backup_items() -> None:
    q = path_topology_query(protected_only=True)
    assert "join kind=inner (" in q and "RecoveryServicesResources" in q
    assert "properties.backupManagementType =~ 'AzureIaasVM'" in q
    assert "tolower(tostring(properties.sourceResourceId))" in q


def test_admin_rules_record_wraps_the_post_answer() -> None:
    vnet = f"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/vnet1"
    rec = admin_rules_record(vnet + "/", [{"id": "r1", "kind": "Custom"}])
    assert rec == {
        "id": f"{vnet}/listNetworkManagerEffectiveSecurityAdminRules",
        "type": ADMIN_RULES_TYPE,
        "name": "vnet1",
        "properties": {"virtualNetworkId": vnet, "value": [{"id": "r1", "kind": "Custom"}]},
    }
    assert is_admin_rules_record({"type": ADMIN_RULES_TYPE.lower()})
    assert not is_admin_rules_record({"type": "microsoft.network/virtualnetworks"})
