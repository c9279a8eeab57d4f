"""`discover` for route tables and firewall policies on the ARM double (real SDK clients, real
AzureCliCredential): one Resource Graph query finds the tagged resources; route tables carry their routes in
Graph, so a no-op run reads none of them; firewall policies' rule collection groups are not in Graph, so each
found policy's group (the entry's `rcg_name`) is read with a GET, and written with If-Match."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from egress.cli import app
from tests.armdouble import ArmDouble

runner = CliRunner()
SUB = "0b1f6471-1bf0-4dda-aec3-cb9272f09590"
FOREIGN = {
    "name": "onprem",
    "properties": {"addressPrefix": "192.168.0.0/16", "nextHopType": "VirtualNetworkGateway"},
}
THEIRS = {
    "ruleCollectionType": "FirewallPolicyFilterRuleCollection", "name": "theirs", "priority": 100,
    "action": {"type": "Deny"},
    "rules": [{"ruleType": "NetworkRule", "name": "r1", "sourceAddresses": ["10.1.25.0/24"],
               "destinationAddresses": ["*"], "ipProtocols": ["TCP"], "destinationPorts": ["*"]}],
}  # fmt: skip


def rid(kind: str, rg: str, name: str) -> str:
    return f"/subscriptions/{SUB}/resourceGroups/{rg}/providers/Microsoft.Network/{kind}/{name}"


TABLES = [rid("routeTables", f"rg-{i % 2}", f"rt-{i}") for i in range(3)]
POLICIES = [rid("firewallPolicies", "rg-hub", f"fwp-{i}") for i in range(2)]


@pytest.fixture
def estate(arm_env: ArmDouble, fake_az, shared_data: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    monkeypatch.setenv("EGRESS_POLL_INTERVAL", "0")
    monkeypatch.setenv("EGRESS_CACHE_DIR", str(tmp_path / "cache"))
    arm_env.set_service_tags(str(data(shared_data)))
    for t in TABLES:
        arm_env.route_tables.seed(t, {"tags": {"egress": "managed"}, "properties": {"routes": [FOREIGN]}})
    arm_env.route_tables.seed(rid("routeTables", "rg-0", "untagged"), {"properties": {"routes": [FOREIGN]}})
    for p in [*POLICIES, rid("firewallPolicies", "rg-hub", "untagged")]:
        arm_env.firewall_policies.seed_policy(
            p, tags=None if p.endswith("untagged") else {"egress": "managed"}
        )
        arm_env.firewall_policies.seed_group(
            p, "egress-backup", {"priority": 200, "ruleCollections": [THEIRS]}
        )
    return arm_env


def data(shared: Path) -> Path:
    return shared / "servicetags" / "ServiceTags_Public_20250127.json"


def refresh(cfg: Path, shared: Path, *args: str):
    return runner.invoke(
        app,
        ["refresh", "--config", str(cfg), "--data", str(data(shared)), "--auth", "cli", "-o", "json", *args],
    )


def write(tmp_path: Path, place: str, kind: str, extra: str = "") -> Path:
    path = tmp_path / "fleet.toml"
    path.write_text(
        '[defaults]\noption = "service-tags"\nregion = "eastus"\n\n[[targets]]\nname = "found"\n'
        f'place = "{place}"\n{extra}'
        f'discover = {{ scope = ["azure:/subscriptions/{SUB}"], tag = "egress=managed", type = "{kind}" }}\n'
    )
    return path


def test_route_tables_are_discovered_and_a_no_op_reads_none(
    estate: ArmDouble, tmp_path: Path, shared_data: Path
) -> None:
    cfg = write(tmp_path, "route-table", "route-table")
    first = refresh(cfg, shared_data, "--apply")
    assert first.exit_code == 3, first.stderr
    report = json.loads(first.stdout)
    names = [f"found/{SUB}/{t.split('/')[4]}/{t.split('/')[-1]}" for t in TABLES]
    assert [t["name"] for t in report["targets"]] == sorted(names)
    assert {t["result"] for t in report["targets"]} == {"applied"}
    assert any("Resource Graph found 3 route table(s)" in n for n in report["notes"])
    assert estate.count(kind="graph") == 1 and estate.count("PUT") == 3
    for t in TABLES:  # egress's routes added, the foreign one kept
        routes = {r["name"] for r in estate.route_tables.get(t)["properties"]["routes"]}
        assert "onprem" in routes and len(routes) > 1
    assert len(estate.route_tables.get(rid("routeTables", "rg-0", "untagged"))["properties"]["routes"]) == 1

    estate.requests.clear()
    noop = refresh(cfg, shared_data, "--apply")
    assert noop.exit_code == 0, noop.stderr
    assert {t["result"] for t in json.loads(noop.stdout)["targets"]} == {"unchanged"}
    assert [r.kind for r in estate.requests] == ["graph"]  # Graph holds the routes: no GET

    estate.requests.clear()
    read = refresh(cfg, shared_data, "--apply", "--no-graph")
    assert read.exit_code == 0, read.stderr
    assert estate.count("GET", "route-table") == 3 and estate.count("PUT") == 0


def test_firewall_policies_are_discovered_by_tag_and_their_group_read_and_written(
    estate: ArmDouble, tmp_path: Path, shared_data: Path
) -> None:
    extra = 'vnet = ["10.0.0.0/16"]\nfirewall_ip = "10.0.1.4"\nrcg_name = "egress-backup"\n'
    cfg = write(tmp_path, "firewall-policy", "firewall-policy", extra)
    first = refresh(cfg, shared_data, "--apply")
    assert first.exit_code == 3, first.stderr
    report = json.loads(first.stdout)
    assert [t["target"] for t in report["targets"]] == [
        f"azure:{p}/ruleCollectionGroups/egress-backup" for p in POLICIES
    ]
    assert {t["result"] for t in report["targets"]} == {"applied"}
    assert any("Resource Graph found 2 firewall policy(s)" in n for n in report["notes"])
    puts = [r for r in estate.requests if r.method == "PUT"]
    assert len(puts) == 2 and all(r.if_match for r in puts)  # each written on the etag its GET returned
    for p in POLICIES:
        group = estate.firewall_policies.group(f"{p}/ruleCollectionGroups/egress-backup")
        assert "theirs" in {c["name"] for c in group["properties"]["ruleCollections"]}
        assert len(group["properties"]["ruleCollections"]) > 1
    untagged = estate.firewall_policies.group(
        rid("firewallPolicies", "rg-hub", "untagged") + "/ruleCollectionGroups/egress-backup"
    )
    assert [c["name"] for c in untagged["properties"]["ruleCollections"]] == ["theirs"]

    estate.requests.clear()
    noop = refresh(cfg, shared_data, "--apply")
    assert noop.exit_code == 0, noop.stderr
    assert {t["result"] for t in json.loads(noop.stdout)["targets"]} == {"unchanged"}
    assert estate.count(kind="graph") == 1 and estate.count("PUT") == 0
    assert estate.count("GET", "rule-collection-group") == 2  # one GET per group: groups are not in Graph


@pytest.mark.parametrize("place", ["route-table", "firewall-policy"])
def test_apply_config_writes_what_a_discover_entry_finds(
    estate: ArmDouble, tmp_path: Path, shared_data: Path, place: str
) -> None:
    extra = 'vnet = ["10.0.0.0/16"]\nfirewall_ip = "10.0.1.4"\n' if place == "firewall-policy" else ""
    cfg = write(tmp_path, place, place, extra)
    args = ["apply", "--config", str(cfg), "--target-name", "found", "--data", str(data(shared_data))]
    result = runner.invoke(app, [*args, "--auth", "cli", "--yes"])
    assert result.exit_code == 3, result.stderr
    found = TABLES if place == "route-table" else POLICIES
    assert result.stdout.count("Applied to ") == len(found)
    assert estate.count("PUT") == len(found) and all(r.if_match for r in estate.requests if r.method == "PUT")


def test_route_tables_listed_by_id_get_the_graph_no_op_too(
    estate: ArmDouble, tmp_path: Path, shared_data: Path
) -> None:
    """Route tables named by id (not discovered) are looked up in one Graph query by ids, with their routes: a
    no-op reads none of them; a table Graph does not show is read with a GET."""
    path = tmp_path / "listed.toml"
    entries = "".join(
        f'\n[[targets]]\nname = "t{i}"\nplace = "route-table"\ntarget = "azure:{t}"\n'
        for i, t in enumerate(TABLES)
    )
    path.write_text('[defaults]\noption = "service-tags"\nregion = "eastus"\n' + entries)
    first = refresh(path, shared_data, "--apply")
    assert first.exit_code == 3, first.stdout
    assert {t["result"] for t in json.loads(first.stdout)["targets"]} == {"applied"}

    estate.requests.clear()
    noop = refresh(path, shared_data, "--apply")
    assert noop.exit_code == 0, noop.stdout
    report = json.loads(noop.stdout)
    assert {t["result"] for t in report["targets"]} == {"unchanged"}
    assert [r.kind for r in estate.requests] == ["graph"]  # no GET of any route table
    (query,) = [r.body["query"] for r in estate.requests if r.kind == "graph"]
    assert "microsoft.network/routetables" in query and "| where id in~ (" in query
    assert any("Resource Graph showed 3 of 3 listed route table(s)" in n for n in report["notes"])

    gone = rid("routeTables", "rg-9", "new-table")  # not in Graph (nor ARM): read, and its error reported
    path.write_text(
        path.read_text() + f'\n[[targets]]\nname = "new"\nplace = "route-table"\ntarget = "azure:{gone}"\n'
    )
    estate.requests.clear()
    mixed = refresh(path, shared_data, "--apply")
    by_name = {t["name"]: t for t in json.loads(mixed.stdout)["targets"]}
    assert by_name["new"]["result"] == "error" and {by_name[f"t{i}"]["result"] for i in range(3)} == {
        "unchanged"
    }
    assert estate.count("GET", "route-table") == 1
