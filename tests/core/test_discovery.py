"""`discover` entries: parsing (one-line usage errors), the Graph query they send, and found NSGs' names."""

from __future__ import annotations

import pytest

from egress.core.discovery import (
    FIREWALL_POLICY_TYPE,
    GRAPH_PAGE_SIZE,
    NSG_TYPE,
    ROUTE_TABLE_TYPE,
    DiscoverScope,
    discovered,
    discovery_query,
    listed_queries,
    parse_discover,
)
from egress.core.spec import parse_config
from egress.errors import UsageError

S1 = "0b1f6471-1bf0-4dda-aec3-cb9272f09590"
S2 = "1C2E5F8A-0D4B-4E6F-9A7B-3C5D7E9F1A2B"


def test_parse_scopes_tag_and_type() -> None:
    d = parse_discover(
        {"scope": [f"azure:/subscriptions/{S1}", f"/subscriptions/{S2}/resourceGroups/rg-backup"], "tag": "egress = managed"},
        "cfg",
    )  # fmt: skip
    assert d.scopes == (DiscoverScope(S1), DiscoverScope(S2.lower(), "rg-backup"))
    assert d.tag == ("egress", "managed") and d.type == NSG_TYPE
    assert d.subscriptions == sorted([S1, S2.lower()])
    assert parse_discover({"scope": f"azure:/subscriptions/{S1}", "tag": "owner"}, "cfg").tag == (
        "owner",
        None,
    )


@pytest.mark.parametrize(
    ("value", "needle"),
    [
        ("nope", "must be a table"),
        ({"tag": "a=b"}, "needs `scope`"),
        ({"scope": []}, "needs `scope`"),
        ({"scope": ["azure:/subscriptions/not-a-guid"]}, "is not a subscription or resource group"),
        ({"scope": [f"azure:/subscriptions/{S1}/resourceGroups/bad."]}, "is not a valid name"),
        ({"scope": [f"azure:/subscriptions/{S1}"], "tag": ""}, 'must be "name=value"'),
        ({"scope": [f"azure:/subscriptions/{S1}"], "tag": "a/b=c"}, "not a valid Azure tag name"),
        ({"scope": [f"azure:/subscriptions/{S1}"], "type": "virtualNetworks"}, "is not supported"),
        ({"scope": [f"azure:/subscriptions/{S1}"], "where": "x"}, "unknown discover key(s) where"),
    ],
)
def test_bad_discover_tables_are_one_line_usage_errors(value: object, needle: str) -> None:
    with pytest.raises(UsageError) as err:
        parse_discover(value, "egress.toml targets[0] (all)")
    assert needle in str(err.value) and "\n" not in str(err.value)


def test_query_selects_type_scopes_and_tag_ordered_by_id() -> None:
    d = parse_discover(
        {"scope": [f"azure:/subscriptions/{S1}", f"azure:/subscriptions/{S2}/resourceGroups/rg-b"], "tag": "egress=it's"},
        "cfg",
    )  # fmt: skip
    q = discovery_query(d)
    assert q.splitlines()[0] == "Resources"
    assert "| where type =~ 'microsoft.network/networksecuritygroups'" in q
    assert f"subscriptionId in~ ('{S1}')" in q
    assert f"(subscriptionId =~ '{S2.lower()}' and resourceGroup =~ 'rg-b')" in q
    assert "| where tags['egress'] =~ 'it\\'s'" in q
    assert q.splitlines()[-1] == "| order by id asc"
    assert "securityRules = properties.securityRules" in q and "defaultSecurityRules" not in q
    whole = discovery_query(parse_discover({"scope": [f"azure:/subscriptions/{S1}"]}, "cfg"))
    assert "subscriptionId" not in whole.split("| project")[0]  # the request's subscriptions scope it


def test_found_nsgs_are_named_after_the_entry_in_name_order() -> None:
    rows = [
        {"id": f"/subscriptions/{S1}/resourceGroups/rg/providers/Microsoft.Network/networkSecurityGroups/b",
         "name": "b", "resourceGroup": "rg", "subscriptionId": S1},
        {"id": f"/subscriptions/{S1}/resourceGroups/rg/providers/Microsoft.Network/networkSecurityGroups/a",
         "name": "a", "resourceGroup": "rg", "subscriptionId": S1},
    ]  # fmt: skip
    found = discovered("all", rows)
    assert [name for name, _, _ in found] == [f"all/{S1}/rg/a", f"all/{S1}/rg/b"]
    assert found[0][1] == "azure:" + rows[1]["id"]


def test_config_entry_with_discover_and_its_named_nsgs() -> None:
    cfg = parse_config(
        f"""
[defaults]
region = "eastus"

[[targets]]
name = "all-backup"
discover = {{ scope = ["azure:/subscriptions/{S1}"], tag = "egress=managed" }}
priority_start = 300
""",
        where="egress.toml",
    )
    (entry,) = cfg.targets
    assert entry.target == "" and entry.discover is not None and entry.spec.priority_start == 300
    one = cfg.target(f"all-backup/{S1}/rg/nsg-1")
    assert one.discover == entry.discover and one.name == f"all-backup/{S1}/rg/nsg-1"
    with pytest.raises(UsageError, match="no target named 'other/x'"):
        cfg.target("other/x")
    with pytest.raises(
        UsageError, match="`discover` finds NSGs here; it cannot be used with place 'route-table'"
    ):
        parse_config(
            f'[[targets]]\nname = "x"\nplace = "route-table"\ndiscover = {{ scope = ["azure:/subscriptions/{S1}"] }}\n',
            where="egress.toml",
        )
    with pytest.raises(UsageError, match="give `target` or `discover`, not both"):
        parse_config(
            f'[[targets]]\nname = "x"\ntarget = "a.json"\ndiscover = {{ scope = ["azure:/subscriptions/{S1}"] }}\n',
            where="egress.toml",
        )


def test_route_tables_and_firewall_policies_are_discovered_with_what_a_plan_reads() -> None:
    rt = parse_discover(
        {"scope": [f"azure:/subscriptions/{S1}"], "type": "route-table", "tag": "egress"}, "cfg"
    )
    assert rt.type == ROUTE_TABLE_TYPE and rt.noun == "route table"
    q = discovery_query(rt)
    assert "| where type =~ 'microsoft.network/routetables'" in q and "routes = properties.routes" in q
    fp = parse_discover({"scope": [f"azure:/subscriptions/{S1}"], "type": "firewallPolicies"}, "cfg")
    assert fp.type == FIREWALL_POLICY_TYPE and fp.noun == "firewall policy"
    assert "| where type =~ 'microsoft.network/firewallpolicies'" in discovery_query(fp)
    pid = f"/subscriptions/{S1}/resourceGroups/rg/providers/Microsoft.Network/firewallPolicies/p"
    ((name, target, _),) = discovered(
        "fw", [{"id": pid, "name": "p", "resourceGroup": "rg", "subscriptionId": S1}], "egress-rcg"
    )
    assert name == f"fw/{S1}/rg/p" and target == f"azure:{pid}/ruleCollectionGroups/egress-rcg"
    cfg = parse_config(
        f'[[targets]]\nname = "fw"\nplace = "firewall-policy"\nregion = "eastus"\n'
        f'rcg_name = "g"\ndiscover = {{ scope = ["azure:/subscriptions/{S1}"], type = "firewall-policy" }}\n',
        where="egress.toml",
    )
    assert cfg.targets[0].discover is not None and cfg.targets[0].spec.rcg_name == "g"
    with pytest.raises(UsageError, match="finds route tables here; it cannot be used with place 'nsg'"):
        parse_config(
            f'[[targets]]\nname = "x"\ndiscover = {{ scope = ["azure:/subscriptions/{S1}"], type = "route-table" }}\n',
            where="egress.toml",
        )


def nsg(i: int, sub: str = S1) -> str:
    return f"/subscriptions/{sub}/resourceGroups/rg/providers/Microsoft.Network/networkSecurityGroups/nsg-{i:05d}"


def test_listed_ids_make_one_query_per_page_of_ids_with_their_subscriptions() -> None:
    ids = [nsg(i, S1 if i % 2 else S2) for i in range(2 * GRAPH_PAGE_SIZE + 1)]
    queries = listed_queries([*ids, ids[0].upper(), " "])  # a repeat in another case is asked once
    assert len(queries) == 3
    seen = [q.split("in~ (", 1)[1].split(")", 1)[0].count("'") // 2 for q, _ in queries]
    assert seen == [GRAPH_PAGE_SIZE, GRAPH_PAGE_SIZE, 1]
    query = queries[0][0]
    assert "| where type =~ 'microsoft.network/networksecuritygroups'" in query
    assert f"'{ids[1].lower()}'" in query and "securityRules = properties.securityRules" in query
    assert [subs for _, subs in queries] == [[S1], [S2.lower()], [S2.lower()]]  # ids sorted: S1's come first
    assert listed_queries([]) == []


def test_listed_ids_are_split_before_a_query_grows_too_long(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("egress.core.discovery.MAX_QUERY_CHARS", 2_000)
    queries = listed_queries([nsg(i) for i in range(100)])
    assert len(queries) > 1 and all(len(q) <= 2_000 for q, _ in queries)
    assert sum(q.count("/networksecuritygroups/nsg-") for q, _ in queries) == 100


def test_listed_queries_for_route_tables_project_their_routes_and_refuse_what_graph_lacks() -> None:
    from egress.core.discovery import FIREWALL_POLICY_TYPE, ROUTE_TABLE_TYPE, listed_queries

    rid = "/subscriptions/0b1f6471-1bf0-4dda-aec3-cb9272f09590/resourceGroups/rg/providers/Microsoft.Network/routeTables/rt"
    ((query, subs),) = listed_queries([rid], ROUTE_TABLE_TYPE)
    assert "where type =~ 'microsoft.network/routetables'" in query
    assert "routes = properties.routes" in query and "securityRules" not in query
    assert subs == ["0b1f6471-1bf0-4dda-aec3-cb9272f09590"]
    with pytest.raises(ValueError):
        listed_queries([rid], FIREWALL_POLICY_TYPE)
