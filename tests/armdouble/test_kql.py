"""The double's KQL subset: what it runs, and that it refuses everything else."""

from __future__ import annotations

import pytest

from tests.armdouble.kql import KqlError, Table, run_query

COLS = ["id", "name", "type", "subscriptionId", "properties"]


def row(i: str, t: str, sub: str = "s1", **props: object) -> dict[str, object]:
    return {"id": i, "name": i.rsplit("/", 1)[-1], "type": t, "subscriptionId": sub, "properties": props}


TABLES = {
    "Resources": Table(
        COLS,
        [
            row("/r/vm2", "microsoft.compute/virtualmachines", size="B2", os={"type": "Linux"}),
            row("/r/vm1", "microsoft.compute/virtualmachines", sub="s2", size="D4"),
            row("/r/nic1", "microsoft.network/networkinterfaces", vm="/R/VM1"),
            row("/r/vnet", "microsoft.network/virtualnetworks", subnets=[{"name": "a"}, {"name": "b"}]),
        ],
    ),
    "RecoveryServicesResources": Table(
        COLS,
        [
            row("/v/i1", "x/protecteditems", kind="AzureIaasVM", src="/R/VM1"),
            row("/v/i2", "x/protecteditems", kind="AzureIaasVM", src="/r/vm1"),
            row("/v/i3", "x/protecteditems", kind="AzureWorkload", src="/r/vm2"),
        ],
    ),
}


def ids(query: str) -> list[object]:
    return [r["id"] for r in run_query(query, TABLES).rows]


def test_where_in_and_case_insensitive_operators() -> None:
    q = "resources | where type in~ ('Microsoft.Compute/virtualMachines') and properties.size !~ 'b2'"
    assert ids(q) == ["/r/vm1"]
    assert ids("Resources | where type =~ 'X' or name == 'nic1'") == ["/r/nic1"]
    assert ids("Resources | where type !in~ ('microsoft.compute/virtualmachines')") == ["/r/nic1", "/r/vnet"]
    assert ids("Resources | where properties.subnets[1].name == 'b'") == ["/r/vnet"]
    assert ids("Resources | where properties['os'].type contains 'LIN'") == ["/r/vm2"]
    assert ids("Resources | where isnull(properties.size) and name startswith 'N'") == ["/r/nic1"]
    assert ids("Resources | where not(subscriptionId == 's1')") == ["/r/vm1"]


def test_project_names_extend_and_order() -> None:
    t = run_query(
        "Resources | extend k = tolower(name) | project id, properties.size, k | order by id asc", TABLES
    )
    assert t.columns == ["id", "properties_size", "k"]
    assert [r["id"] for r in t.rows] == ["/r/nic1", "/r/vm1", "/r/vm2", "/r/vnet"]
    assert t.rows[1] == {"id": "/r/vm1", "properties_size": "D4", "k": "vm1"}
    # KQL orders descending unless told; nulls last descending.
    assert run_query("Resources | order by id", TABLES).rows[0]["id"] == "/r/vnet"
    desc = run_query("Resources | project id, s = properties.size | order by s", TABLES).rows
    assert [r["s"] for r in desc] == ["D4", "B2", None, None]


def test_union_and_join_as_the_protected_query_uses_them() -> None:
    q = """Resources
    | where type =~ 'microsoft.network/networkinterfaces'
    | union (
        Resources | where type =~ 'microsoft.compute/virtualmachines' | extend vmKey = tolower(id)
        | join kind=inner (
            RecoveryServicesResources | where properties.kind =~ 'AzureIaasVM'
            | extend vmKey = tolower(tostring(properties.src)) | distinct vmKey
          ) on vmKey
      )
    | project id, name
    | order by id asc"""
    t = run_query(q, TABLES)
    assert t.columns == ["id", "name"]
    assert [r["id"] for r in t.rows] == ["/r/nic1", "/r/vm1"]  # vm1 twice protected, once joined (distinct)


def test_join_kinds_and_renamed_columns() -> None:
    right = (
        "(RecoveryServicesResources | extend vmKey = tolower(tostring(properties.src)) | project vmKey, id)"
    )
    left = "Resources | extend vmKey = tolower(id)"
    inner = run_query(f"{left} | join kind=inner {right} on vmKey", TABLES)
    assert sorted(r["id1"] for r in inner.rows) == ["/v/i1", "/v/i2", "/v/i3"]
    assert "vmKey1" in inner.columns
    outer = run_query(f"{left} | join kind=leftouter {right} on vmKey | where isnull(id1)", TABLES)
    assert sorted(r["id"] for r in outer.rows) == ["/r/nic1", "/r/vnet"]
    unique = run_query(f"{left} | join {right} on $left.vmKey == $right.vmKey", TABLES)
    assert len(unique.rows) == 3


def test_limit_marks_the_result() -> None:
    t = run_query("Resources | project id | limit 2", TABLES)
    assert len(t.rows) == 2 and t.limited


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ("Resources | summarize count() by type", "UnsupportedOperator"),
        ("Resources | mv-expand properties.subnets", "ParserFailure"),
        ("Resources | where foo == 1", "SemanticError"),
        ("Resources | project id, etag", "SemanticError"),
        ("Resources | where type matches regex 'x'", "ParserFailure"),
        ("Resources | where parse_json(name) == 1", "UnknownFunction"),
        ("Resources | project tolower(name)", "ParserFailure"),
        ("Resourcez", "InvalidTable"),
        ("ResourceContainers | project id", "InvalidTable"),
        ("Resources | join kind=fullouter (Resources) on id", "UnsupportedOperator"),
        ("Resources | where name == 'a", "ParserFailure"),
        ("", "ParserFailure"),
        ("Resources |", "UnsupportedOperator"),
    ],
)
def test_everything_else_is_refused(query: str, code: str) -> None:
    with pytest.raises(KqlError) as err:
        run_query(query, TABLES)
    assert err.value.code == code
